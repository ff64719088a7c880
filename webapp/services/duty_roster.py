"""A station's duty slots as the people who run it see them: who holds a place and who
waits in which order, a slot called off with its sign-ups, its number of places changed —
and, for a volunteer, which of the slots they hold."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import aliased

from forms import mask_value
from webapp.extensions import db
from webapp.models import DutySlot, Instance, OrgUnit, Task, TaskAssignee, User
from webapp.models.workflow import CapacityResource, Reservation
from webapp.services.access import oversight_clause, visible_clause
from webapp.services.activities import CHINA
from webapp.services.directory import close_resource, set_places
from workflows.errors import Conflict, InvalidInput

MAX_REASON = 200


def slot_key(slot_id: int) -> str:
    return f"slot:{slot_id}"


@dataclass(frozen=True)
class Entry:
    """One person on a slot's roster: their request, name, phone (masked unless the
    viewer may see it) and whether the viewer may open the request."""

    instance_id: int
    name: str
    phone: str
    may_open: bool
    position: int | None = None  # on the waiting list: 1, 2, …


def _open_reservations(slot_ids):
    """(slot key, reservation status, seq, instance) of the open requests on the slots."""
    keys = [slot_key(i) for i in slot_ids]
    return db.session.execute(
        select(Reservation.resource_key, Reservation.status, Reservation.seq, Instance)
        .join(Instance, Instance.id == Reservation.instance_id)
        .where(Reservation.resource_key.in_(keys), Reservation.status != "released",
               Instance.closed_at.is_(None))
        .order_by(Reservation.resource_key, Reservation.status, Reservation.seq)).all()


def _private_clause(viewer: User):
    """As ``access.can_see_private``, for many requests at once."""
    given = exists(select(TaskAssignee.task_id).join(Task, Task.id == TaskAssignee.task_id)
                   .where(Task.instance_id == Instance.id, TaskAssignee.user_id == viewer.id))
    clauses = [Instance.applicant_id == viewer.id, given]
    oversight = oversight_clause(viewer)
    if oversight is not None:
        clauses.append(oversight)
    return or_(*clauses)


def roster(slot_ids, viewer: User, phone_field) -> dict[int, dict[str, list[Entry]]]:
    """Per slot id: ``held`` (those with a place, in sign-up order) and ``waiting`` (in
    the order they will move up).  The phone is the one the request gave, masked as the
    request page masks it for the viewer; a request the viewer may not open is not
    linked.  Four queries whatever the number of slots."""
    out = {i: {"held": [], "waiting": []} for i in slot_ids}
    rows = _open_reservations(slot_ids)
    if not rows:
        return out
    ids = [row[3].id for row in rows]
    visible = set(db.session.scalars(select(Instance.id).where(
        Instance.id.in_(ids), visible_clause(viewer))))
    private = set(db.session.scalars(select(Instance.id).where(
        Instance.id.in_(ids), _private_clause(viewer))))
    names = dict(db.session.execute(select(User.id, User.display_name).where(
        User.id.in_({row[3].applicant_id for row in rows}))).all())
    for key, status, _seq, instance in rows:
        phone = (instance.state or {}).get("data", {}).get("phone") or ""
        if phone and instance.id not in private:
            # Masked as the request page masks it; with no phone field to go by (the
            # process unpublished, the field renamed), hidden altogether — never shown.
            phone = mask_value(phone_field, phone) if phone_field is not None else "***"
        part = out[int(key.split(":", 1)[1])]["held" if status == "granted" else "waiting"]
        part.append(Entry(instance.id, names.get(instance.applicant_id, ""), str(phone),
                          instance.id in visible,
                          len(part) + 1 if status != "granted" else None))
    return out


def my_places(slot_ids, user: User) -> dict[int, tuple[int, int | None]]:
    """Per slot the user holds or waits for: (their request, None when they hold a place
    or their place on the waiting list)."""
    keys = [slot_key(i) for i in slot_ids]
    mine = db.session.execute(
        select(Reservation.resource_key, Reservation.status, Reservation.seq, Instance.id)
        .join(Instance, Instance.id == Reservation.instance_id)
        .where(Reservation.resource_key.in_(keys), Reservation.status != "released",
               Instance.applicant_id == user.id, Instance.closed_at.is_(None))).all()
    out = {}
    for key, status, seq, instance_id in mine:
        position = None
        if status != "granted":
            ahead = aliased(Reservation)
            position = db.session.scalar(select(func.count()).select_from(ahead).join(
                Instance, Instance.id == ahead.instance_id).where(
                ahead.resource_key == key, ahead.status == "waitlisted", ahead.seq <= seq,
                Instance.closed_at.is_(None)))
        out[int(key.split(":", 1)[1])] = (instance_id, position)
    return out


def _locked(slot: DutySlot) -> DutySlot:
    """The slot's row read again under a lock until the commit: two heads confirming a
    cancel at once, or places changed while a cancel runs, see each other's change
    (the second is told it is cancelled) instead of overwriting it."""
    return db.session.scalar(select(DutySlot).where(DutySlot.id == slot.id)
                             .with_for_update()
                             .execution_options(populate_existing=True))


def _check_future(slot: DutySlot, now: datetime) -> None:
    if slot.cancelled_at is not None:
        raise Conflict("这个时段已经取消了", "This slot has already been cancelled",
                       code="slot_cancelled")
    if slot.starts_at <= now:
        raise Conflict("这个时段已经开始，不能再更改", "This slot has already begun and can no "
                       "longer be changed", code="slot_started")


def cancel_slot(slot: DutySlot, actor: User, reason: str) -> int:
    """Call the slot off: it is no longer offered, and every open sign-up for it ends as
    cancelled by the station with ``reason`` (history, audit and the applicant's
    notification through the engine's ``call_off``).  Its capacity resource is closed
    first: a place given back hands nobody on the waiting list a place that is being
    called off, and a sign-up racing this one either took its place or waiting place
    before (the resource's row lock makes this wait for it, and it is ended below) or is
    refused by ``reserve`` — never left holding a place on a slot called off.
    Returns how many sign-ups ended."""
    from webapp.services import workflow as wf
    from workflows.runtime import Action

    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("请填写取消理由", "Please give a reason for cancelling",
                           code="comment_required",
                           field_errors={"reason": [("请填写取消理由", "Please give a reason")]})
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"取消理由不能超过 {MAX_REASON} 字",
                           f"The reason can be at most {MAX_REASON} characters",
                           code="comment_too_long")
    now = datetime.now(timezone.utc)
    slot = _locked(slot)
    _check_future(slot, now)
    key = slot_key(slot.id)
    close_resource(key)
    slot.cancelled_at, slot.cancelled_by_id, slot.cancel_reason = now, actor.id, reason
    # The waiting list first, from its end: nobody is left behind someone being called off.
    rows = sorted(_open_reservations([slot.id]),
                  key=lambda row: (row[1] == "granted", -row[2]))
    # Each volunteer is told which duty at which station was called off.
    station = db.session.get(OrgUnit, slot.station_id)
    when = (f"{slot.starts_at.astimezone(CHINA):%Y-%m-%d %H:%M}–"
            f"{slot.ends_at.astimezone(CHINA):%H:%M}")
    what = {"resource": key, "slot_when": when, "station_name": station.label("zh"),
            "station_name_en": station.label("en")}
    for _key, _status, _seq, instance in rows:
        wf.perform(instance.id, Action("call_off", comment=reason, data=what), actor)
    db.session.flush()
    return len(rows)


def change_places(slot: DutySlot, capacity: int) -> tuple[list[int], int]:
    """The slot's number of places: more moves those waiting up in their order (woken as
    a release wakes them: their step goes on and they are told); fewer than are already
    given takes nobody's place back, it only gives no more.  Returns the requests moved
    up and how many hold a place beyond the new number."""
    from webapp.services.activities import promote_waiting

    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise InvalidInput("名额至少为 1", "There must be at least 1 place",
                           code="bad_capacity")
    slot = _locked(slot)
    _check_future(slot, datetime.now(timezone.utc))
    promoted = set_places(slot_key(slot.id), capacity)
    slot.capacity = capacity
    db.session.flush()
    promote_waiting(promoted)
    granted = db.session.scalar(select(CapacityResource.granted).where(
        CapacityResource.key == slot_key(slot.id))) or 0
    return promoted, max(granted - capacity, 0)
