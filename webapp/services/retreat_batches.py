"""Retreat (疗休养) batches made and changed by the city: their dates, site and places.

Who may: the administrators who set the city's own quota (``quotas.may_allocate`` on the
city: a city administrator there, a platform administrator above).  A new batch's places
all go to its city, as the city's quota (``quotas.allocate_quota``), from which the city
hands them down; changing the places changes the city's quota with them, never below
what the city has handed down or used.

The start form lists a batch, and a request names it, in the reader's language: the
English name when there is one (``batch_choices``, ``batch_name`` below take over the
registrations of ``activities``, which named batches in Chinese only).

A batch's dates may move under nominations already under way (the resort postponed):
they follow (``reschedule``), and their people are told.  Its start may not move into
another year while any are open: a person is nominated once a year, counted in the year
the batch starts in.  Its name is its own, whatever the case, over every city — looked
up by ``check`` and held by the database (``uq_retreat_batches_name``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import (Instance, OrgUnit, Reservation, RetreatBatch, RetreatQuota, Task,
                           TaskAssignee, User)
from webapp.services import audit, quotas
from webapp.services.activities import CHINA
from webapp.services.choices import RECORD_CHOICES
from webapp.services.display import RECORD_EMPTY, RECORD_NAMES

FIELDS = ("name", "name_en", "site", "site_en", "starts_on", "ends_on", "capacity",
          "nominations_close_on")


class BatchError(ValueError):
    """A batch that cannot be saved: which field, and why in both languages."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(zh)
        self.field, self.zh, self.en = field, zh, en

    def message(self, locale: str) -> str:
        return self.en if locale.startswith("en") else self.zh


def today() -> date:
    return datetime.now(CHINA).date()


# ------------------------------------------------------------------------------ who

def cities_for(viewer: User) -> list[OrgUnit]:
    """The cities whose batches ``viewer`` may make: those whose own quota they set."""
    roots = [m.unit.path for m in viewer.memberships if m.role in quotas.QUOTA_ADMIN_ROLES]
    if not roots:
        return []
    cities = db.session.scalars(select(OrgUnit).where(
        OrgUnit.kind == "city", OrgUnit.active.is_(True)).order_by(OrgUnit.path))
    return [c for c in cities if any(c.path.startswith(root) for root in roots)]


def may_manage(viewer: User, batch: RetreatBatch | None = None) -> bool:
    """May ``viewer`` make batches (``batch`` None), or change this one?"""
    if batch is None:
        return bool(cities_for(viewer))
    return quotas.may_allocate(viewer, batch, batch.owner_unit)


# ------------------------------------------------------------------------------ saving

@dataclass(frozen=True)
class CityUse:
    """What the city has done with a batch's places: handed down and used itself."""

    handed_down: int
    used: int

    @property
    def total(self) -> int:
        return self.handed_down + self.used


def city_use(batch: RetreatBatch) -> CityUse:
    if batch.id is None:
        return CityUse(0, 0)
    return CityUse(quotas._handed_down(batch, batch.owner_unit_id),
                   quotas._taken(batch, batch.owner_unit_id))


def _snapshot(batch: RetreatBatch) -> dict:
    values = {name: getattr(batch, name) for name in FIELDS}
    values["unit"] = batch.owner_unit.code if batch.owner_unit else None
    return values


def _open_nominations(batch: RetreatBatch):
    """The nominations for ``batch`` still open: those holding (or waiting for) a place
    of its quotas (``retreat:<batch>:<unit>``, taken as a nomination starts)."""
    return (select(Reservation.instance_id)
            .join(Instance, Instance.id == Reservation.instance_id)
            .where(Reservation.resource_key.startswith(f"retreat:{batch.id}:"),
                   Reservation.status != "released", Instance.closed_at.is_(None)))


def open_nominations(batch: RetreatBatch) -> int:
    """How many nominations for ``batch`` are still open — one indexed count, not every
    open nomination's state read."""
    return db.session.scalar(_open_nominations(batch).with_only_columns(
        func.count(func.distinct(Reservation.instance_id)))) or 0


def open_nomination_ids(batch: RetreatBatch) -> list[int]:
    return list(db.session.scalars(_open_nominations(batch).distinct()
                                   .order_by(Reservation.instance_id)))


def check(fields: dict, batch: RetreatBatch | None) -> None:
    """Raise ``BatchError`` for the first thing wrong with ``fields``."""
    starts, ends, closes = fields["starts_on"], fields["ends_on"], fields["nominations_close_on"]
    if ends < starts:
        raise BatchError("ends_on", "结束日期不能早于开始日期",
                         "The end date cannot be before the start date")
    if closes > starts:
        raise BatchError("nominations_close_on",
                         f"推荐截止日期（{closes}）不能晚于开始日期（{starts}）",
                         f"Nominations must close ({closes}) on or before the start "
                         f"date ({starts})")
    if batch is None and closes < today():
        raise BatchError("nominations_close_on",
                         "推荐截止日期已经过去，将无法推荐。请检查日期。",
                         "The nomination closing date has passed: nobody could be "
                         "nominated. Please check the date.")
    # lower() on both sides, as the database's index on lower(name) compares them.
    same = select(RetreatBatch.id).where(
        func.lower(RetreatBatch.name) == func.lower(fields["name"]))
    if batch is not None:
        same = same.where(RetreatBatch.id != batch.id)
    if db.session.scalar(same.limit(1)) is not None:
        raise _name_error()
    if batch is not None and starts.year != batch.starts_on.year:
        running = open_nominations(batch)
        if running:
            # A person is nominated once a year (the definition's ``unique``: the year
            # the batch starts in), and these nominations were counted in the batch's
            # year when they were made.  Counting them in the new one instead is not the
            # save's to decide: a nominee may already have a nomination in that year
            # (under way, or over: it still counts), which would make two.
            old, new = batch.starts_on.year, starts.year
            some = ("1 nomination for this batch is under way, and it counts" if running == 1
                    else f"{running} nominations for this batch are under way, and they count")
            raise BatchError(
                "starts_on",
                f"本批次有 {running} 份推荐正在办理，开始日期不能改到 {new} 年：每人每年只能被推荐"
                f"一次，这些推荐已计入 {old} 年。如需在 {new} 年举办，请为 {new} 年新建批次并重新推荐。",
                f"{some} for {old}, so its start cannot move into {new}: a worker may be "
                f"nominated once a year. Create a new batch for {new} and nominate again.")
    if batch is not None and fields["capacity"] != batch.capacity:
        use = city_use(batch)
        if fields["capacity"] < use.total:
            raise BatchError(
                "capacity",
                f"已下拨 {use.handed_down} 个、市级已使用 {use.used} 个名额，"
                f"名额不能少于 {use.total} 个",
                f"{use.handed_down} places are handed down and {use.used} used by the city: "
                f"at least {use.total}")


def save_batch(batch: RetreatBatch | None, actor: User, city: OrgUnit, **fields
               ) -> RetreatBatch:
    """Create a batch (``batch`` None) of ``city`` or change one; the city's quota is the
    batch's places.  ``BatchError`` when the fields do not make a batch (nothing
    changed); the caller holds the write lock and commits."""
    fields = {name: fields.get(name) for name in FIELDS}
    for name in ("name_en", "site_en"):
        fields[name] = fields[name] or None
    check(fields, batch)
    if batch is None:
        batch = RetreatBatch(owner_unit=city, **fields)
        db.session.add(batch)
        _flush_name()
        audit.record(actor, "retreat_batch.create", ("retreat_batch", batch.id), {},
                     _snapshot(batch), unit=city)
        quotas.allocate_quota(batch, city, batch.capacity, actor=actor)
        return batch
    before = _snapshot(batch)
    for name, value in fields.items():
        setattr(batch, name, value)
    _flush_name()
    after = _snapshot(batch)
    if (before["starts_on"], before["ends_on"]) != (batch.starts_on, batch.ends_on):
        moved = reschedule(batch, before["starts_on"], before["ends_on"], actor)
        if moved:
            after["nominations_moved"] = moved
    audit.record(actor, "retreat_batch.update", ("retreat_batch", batch.id), before, after,
                 unit=batch.owner_unit)
    if before["capacity"] != batch.capacity:
        quotas.allocate_quota(batch, batch.owner_unit, batch.capacity, actor=actor)
    return batch


NAME_INDEX = "uq_retreat_batches_name"  # on lower(name): the models' and the migration's


def _flush_name() -> None:
    """Write the batch; a batch of the same name saved meanwhile by someone else (after
    ``check`` looked) is refused as ``check`` refuses it, not as a database error."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        if NAME_INDEX not in str(exc.orig):
            raise
        raise _name_error() from None


def _name_error() -> BatchError:
    return BatchError("name", "已有同名的疗休养批次，请换个名称",
                      "There is already a retreat batch of that name")


# ------------------------------------------------------------------------------ moving

def reschedule(batch: RetreatBatch, starts_on: date, ends_on: date, actor: User,
               now: datetime | None = None) -> int:
    """``batch`` moved from ``starts_on``–``ends_on`` to its dates now: its open
    nominations follow — the engine's ``retime`` moves what waits for its dates (the
    retreat's end), as a course's registrations follow the course — and each nominee,
    and whoever has a task on a nomination, is told the new dates (a nominee whose
    timer moved was told by the engine already).  Returns how many nominations."""
    from webapp.services import outbox
    from webapp.services import workflow as wf

    ids = open_nomination_ids(batch)
    if not ids:
        return 0
    now = now or datetime.now(timezone.utc)
    retimed = wf.retime(ids, now=now)
    holders: dict[int, list[int]] = {}
    for instance_id, user_id in db.session.execute(
            select(Task.instance_id, TaskAssignee.user_id)
            .join(TaskAssignee, TaskAssignee.task_id == Task.id)
            .where(Task.instance_id.in_(ids), Task.status == "open")
            .order_by(Task.instance_id, Task.id, TaskAssignee.user_id)):
        holders.setdefault(instance_id, []).append(user_id)
    moved = {"record": batch.name, "record_en": batch.label("en"),
             "starts_on": batch.starts_on.isoformat(), "ends_on": batch.ends_on.isoformat(),
             "old_starts_on": starts_on.isoformat(), "old_ends_on": ends_on.isoformat()}
    for instance in db.session.scalars(select(Instance).where(Instance.id.in_(ids))
                                       .order_by(Instance.id)):
        spec = wf.spec_of_instance(instance)
        fields = {"kind": "dates_moved", "title_key": "workflows.dates_moved",
                  "params": {**moved, "process": spec.key, "process_name": spec.name,
                             "process_name_en": spec.name_en or spec.name},
                  "instance_id": instance.id, "created_at": now}
        nominee = [] if instance.id in retimed else [instance.applicant_id]
        others = [u for u in holders.get(instance.id, []) if u != instance.applicant_id]
        # Never the one who moved it (they know); those with a task hear in the digest:
        # it changes nothing they must do.
        notes = outbox.write_notifications([u for u in nominee if u != actor.id],
                                           priority="normal", **fields)
        notes += outbox.write_notifications([u for u in others if u != actor.id],
                                            priority="low", **fields)
        outbox.plan(notes, instance, now)
    outbox.queue_new()
    return len(ids)


def batches() -> list[RetreatBatch]:
    """Every batch, the latest first."""
    return list(db.session.scalars(select(RetreatBatch).order_by(
        RetreatBatch.starts_on.desc(), RetreatBatch.id.desc())))


def has_quota(batch: RetreatBatch) -> bool:
    return db.session.scalar(select(RetreatQuota.id).where(
        RetreatQuota.batch_id == batch.id).limit(1)) is not None


# ------------------------------------------------------------------------------ forms

def _as_int(value) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def batch_choices(field, locale: str, hints=None) -> list[tuple[str, str]]:
    """The batches still taking nominations (closing today included), soonest first."""
    rows = db.session.scalars(select(RetreatBatch).where(
        RetreatBatch.nominations_close_on >= today()).order_by(RetreatBatch.starts_on,
                                                               RetreatBatch.id))
    return [(str(b.id), f"{b.label(locale)} · {b.site_label(locale)} · "
                        f"{b.starts_on:%m-%d}~{b.ends_on:%m-%d}") for b in rows]


def batch_name(record_id, locale: str, directory) -> str | None:
    batch = db.session.get(RetreatBatch, _as_int(record_id)) if _as_int(record_id) else None
    return batch.label(locale) if batch is not None else None


def no_batch_open(field, locale: str) -> str:
    """Why the start form has no batch to offer: nominations are closed."""
    last = db.session.scalar(select(RetreatBatch).where(
        RetreatBatch.nominations_close_on < today()).order_by(
        RetreatBatch.nominations_close_on.desc(), RetreatBatch.id.desc()).limit(1))
    if locale.startswith("en"):
        text = "Retreat nominations are closed: no batch is taking nominations now."
        if last is not None:
            text += (f" Nominations for {last.label(locale)} closed on "
                     f"{last.nominations_close_on}.")
        return text + " Nominations open again when the city union announces a new batch."
    text = "疗休养推荐已截止：目前没有正在接受推荐的批次。"
    if last is not None:
        text += f"“{last.label(locale)}”已于 {last.nominations_close_on} 截止推荐。"
    return text + "市总工会发布新批次后即可推荐。"


RECORD_CHOICES["retreat_batch"] = batch_choices
RECORD_NAMES["retreat_batch"] = batch_name
RECORD_EMPTY["retreat_batch"] = no_batch_open
