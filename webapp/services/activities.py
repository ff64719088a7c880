"""Courses, duty slots and retreat batches: creating them with their capacity, and
telling the engine and the forms about them (record attributes and choices)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import (CapacityResource, Course, CourseSession, DutySlot, OrgUnit,
                           RetreatBatch, Station)
from webapp.services.choices import DISTRICT_HINT, RECORD_CHOICES
from webapp.services.directory import RECORD_SOURCES, set_places
from webapp.services.display import RECORD_NAMES

CHINA = ZoneInfo("Asia/Shanghai")


class CapacityError(ValueError):
    """A capacity below the places already taken."""


def _set_capacity(key: str, capacity: int) -> list[int]:
    """An administrator's number of places for a resource (never below those taken);
    returns the requests moved off its waiting list into new places, for the caller to
    wake with ``promote_waiting`` (their step goes on and they are told)."""
    resource = db.session.scalar(select(CapacityResource).where(CapacityResource.key == key)
                                 .with_for_update().execution_options(populate_existing=True))
    if resource is not None and capacity < resource.granted:
        raise CapacityError(f"{key}: {resource.granted} places are already taken")
    return set_places(key, capacity)


def promote_waiting(instance_ids) -> None:
    """Wake the requests a larger capacity gave a place, in their order, as a release
    does (the engine's ``promote``: their step goes on, the applicant is told)."""
    from webapp.services import workflow as wf
    from workflows.runtime import Action

    for instance_id in instance_ids:
        wf.perform(instance_id, Action("promote"), None)


def create_course(*, schedule=(), occupations=(), **fields) -> Course:
    """A course with its sessions: ``schedule`` is ``(starts_at, ends_at, topic)`` per
    session (aware datetimes); the number of sessions is the schedule's length."""
    schedule = sorted(schedule)
    if schedule:
        fields["sessions"] = len(schedule)
    course = Course(occupations=",".join(occupations), **fields)
    db.session.add(course)
    db.session.flush()
    for starts_at, ends_at, topic in schedule:
        db.session.add(CourseSession(course=course, starts_at=starts_at, ends_at=ends_at,
                                     topic=topic))
    _set_capacity(f"course:{course.id}", course.capacity)
    db.session.flush()
    return course


def create_slot(station: OrgUnit, starts_at: datetime, ends_at: datetime, capacity: int,
                published_by=None) -> DutySlot:
    slot = DutySlot(station=station, starts_at=starts_at, ends_at=ends_at, capacity=capacity,
                    published_by_id=published_by.id if published_by else None)
    db.session.add(slot)
    db.session.flush()
    _set_capacity(f"slot:{slot.id}", capacity)
    return slot


# ------------------------------------------------------------------ engine records

def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _places_left(keys: list[str], en: bool) -> dict[str, str]:
    """"余 3 位" / "已满，可候补" ("3 places left", "1 place left" / "full - waiting
    list") for each capacity resource, in one query."""
    left = {key: max((capacity or 0) - granted, 0) for key, capacity, granted in
            db.session.execute(select(CapacityResource.key, CapacityResource.capacity,
                                      CapacityResource.granted)
                               .where(CapacityResource.key.in_(keys)))}
    full = "full - waiting list" if en else "已满，可候补"
    return {key: _left_text(left[key], en) if left.get(key) else full for key in keys}


def _left_text(places: int, en: bool) -> str:
    if not en:
        return f"余 {places} 位"
    return "1 place left" if places == 1 else f"{places} places left"


def course_record(record_id):
    course = db.session.get(Course, _as_int(record_id)) if _as_int(record_id) else None
    if course is None:
        return None
    return {"title": course.title, "kind": course.kind, "unit": course.unit_id,
            "sessions": course.sessions, "capacity": course.capacity,
            "requires_approval": course.requires_approval, "starts_on": course.starts_on,
            "ends_on": _end_of_day(course.ends_on), "venue": course.venue,
            "opens_on": course.opens_on, "closes_on": course.closes_on,
            "window": f"{course.opens_on:%Y-%m-%d} 至 {course.closes_on:%Y-%m-%d}",
            "window_en": f"from {course.opens_on:%Y-%m-%d} to {course.closes_on:%Y-%m-%d}",
            **_eligibility(course)}


# The occupations of the registration form (training_registration.yaml), for messages.
OCCUPATIONS = {"delivery": ("外卖配送员", "food delivery riders"), "courier": ("快递员", "couriers"),
               "ride_hailing": ("网约车司机", "ride-hailing drivers"),
               "trucker": ("货车司机", "truck drivers"), "other": ("其他从业人员", "others")}


def _eligibility(course: Course) -> dict:
    keys = course.occupation_keys
    low, high = course.min_age, course.max_age
    if low is not None and high is not None:
        ages = (f"{low}–{high} 周岁", f"aged {low} to {high}")
    elif low is not None:
        ages = (f"{low} 周岁及以上", f"aged {low} or over")
    elif high is not None:
        ages = (f"{high} 周岁及以下", f"aged {high} or under")
    else:
        ages = ("任何年龄", "of any age")
    return {"occupations": keys, "min_age": low, "max_age": high,
            "occupation_names": "、".join(OCCUPATIONS.get(k, (k, k))[0] for k in keys),
            "occupation_names_en": ", ".join(OCCUPATIONS.get(k, (k, k))[1] for k in keys),
            "age_range": ages[0], "age_range_en": ages[1]}


def slot_record(record_id):
    slot = db.session.get(DutySlot, _as_int(record_id)) if _as_int(record_id) else None
    if slot is None:
        return None
    return {"station": slot.station_id, "starts_at": slot.starts_at, "ends_at": slot.ends_at,
            "capacity": slot.capacity}


def batch_record(record_id):
    batch = db.session.get(RetreatBatch, _as_int(record_id)) if _as_int(record_id) else None
    if batch is None:
        return None
    return {"name": batch.name, "site": batch.site, "starts_on": batch.starts_on,
            "year": batch.starts_on.year,
            "ends_on": _end_of_day(batch.ends_on), "capacity": batch.capacity}


def station_record(record_id):
    station = db.session.get(Station, _as_int(record_id)) if _as_int(record_id) else None
    if station is None:
        return None
    return {"district": station.district_id, "address": station.address,
            "is_open": station.is_open, "charging_piles": station.charging_piles,
            "car_parking": station.car_parking, "motorcycle_parking": station.motorcycle_parking}


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day, datetime.max.time().replace(microsecond=0), tzinfo=CHINA)


# ------------------------------------------------------------------ choices

def _today() -> date:
    return datetime.now(CHINA).date()


def course_choices(field, locale: str, hints=None) -> list[tuple[str, str]]:
    today = _today()
    rows = db.session.scalars(select(Course).where(Course.opens_on <= today,
                                                   Course.closes_on >= today)
                              .order_by(Course.starts_on, Course.id))
    rows = rows.all()
    places = _places_left([f"course:{c.id}" for c in rows], locale.startswith("en"))
    def when(c) -> str:  # the days it runs: a one-day course by its day alone
        return (f"{c.starts_on:%m-%d}" if c.ends_on in (None, c.starts_on)
                else f"{c.starts_on:%m-%d}~{c.ends_on:%m-%d}")
    return [(str(c.id), f"{c.title} · {when(c)} · {places[f'course:{c.id}']}")
            for c in rows]


# Slots offered when no station is chosen yet: the soonest, city-wide.
SOONEST_SLOTS = 500


def slot_choices(field, locale: str, hints=None) -> list[tuple[str, str]]:
    """Upcoming duty slots still offered (not called off): the chosen station's
    (``hints["station"]``), else the soonest of the district the form's station filter
    shows (``hints[DISTRICT_HINT]``) or of the city — and always the slots sent
    (``hints["slot"]``) if they are upcoming, so any slot of a city of 20,000 can be
    checked and then judged by the definition's own rule (e.g. "that slot is at another
    station").

    Labelled by date, time and places first ("12-05 09:00-17:00 · 余 2 位"), which a
    phone's narrow select must show; the station's name (in ``locale``) follows only
    where no station is chosen, or the slot is another station's."""
    hints = hints or {}
    now = datetime.now(timezone.utc)
    base = (select(DutySlot, OrgUnit).join(OrgUnit, OrgUnit.id == DutySlot.station_id)
            .where(DutySlot.starts_at > now, DutySlot.cancelled_at.is_(None)))
    order = (DutySlot.starts_at, OrgUnit.name)
    stations = hints.get("station") or []
    if stations:
        listed = base.where(DutySlot.station_id.in_(stations))
    elif hints.get(DISTRICT_HINT):  # no station yet: the soonest of the district shown
        listed = base.join(Station, Station.unit_id == DutySlot.station_id).where(
            Station.district_id.in_(hints[DISTRICT_HINT]))
    else:
        listed = base
    rows = db.session.execute(listed.order_by(*order).limit(SOONEST_SLOTS)).all()
    sent = set(hints.get(field.name) or []) - {slot.id for slot, _ in rows}
    if sent:
        rows += db.session.execute(base.where(DutySlot.id.in_(sent)).order_by(*order)).all()
    places = _places_left([f"slot:{slot.id}" for slot, _ in rows], locale.startswith("en"))
    chosen = set(stations)
    out = []
    for slot, station in rows:
        start, end = slot.starts_at.astimezone(CHINA), slot.ends_at.astimezone(CHINA)
        label = f"{start:%m-%d %H:%M}-{end:%H:%M} · {places[f'slot:{slot.id}']}"
        if slot.station_id not in chosen:
            label += f" · {station.label(locale)}"
        out.append((str(slot.id), label))
    return out


# ------------------------------------------------------------------ names

def course_name(record_id, locale: str, directory) -> str | None:
    course = db.session.get(Course, _as_int(record_id)) if _as_int(record_id) else None
    return course.title if course is not None else None


def slot_name(record_id, locale: str, directory) -> str | None:
    """"解放碑驿站 · 06-01 09:00-17:00" (China time), as the slot select lists it."""
    slot = db.session.get(DutySlot, _as_int(record_id)) if _as_int(record_id) else None
    if slot is None:
        return None
    station = directory.unit_row(slot.station_id)
    start, end = slot.starts_at.astimezone(CHINA), slot.ends_at.astimezone(CHINA)
    when = f"{start:%m-%d %H:%M}-{end:%H:%M}"
    return f"{station.label(locale)} · {when}" if station is not None else when


RECORD_SOURCES.update({"course": course_record, "slot": slot_record,
                       "retreat_batch": batch_record, "station": station_record})
# A retreat batch's choices and name (in the reader's language) are registered by
# webapp/services/retreat_batches.py, with the batches' own pages.
RECORD_CHOICES.update({"course": course_choices, "slot": slot_choices})
RECORD_NAMES.update({"course": course_name, "slot": slot_name})
