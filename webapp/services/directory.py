"""The engine's view of the organisation and of shared capacity, over the database.

Implements ``workflows.directory.Directory``.  One instance lives for one transaction:
it caches units it has read, and its capacity operations take part in the caller's
transaction, so a rolled-back step gives its places back.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import bindparam, event, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.database import loaded
from webapp.extensions import db
from webapp.models import Membership, OrgUnit, Pairing, User
from webapp.models.workflow import CalendarDay, CapacityResource, Instance, Reservation
from webapp.services import org_cache, process_cache
from workflows.directory import GRANTED, REFUSED, WAITLISTED, Unit
from workflows.durations import WorkCalendar

# Record sources a definition's ``record`` fields may name ("course", "retreat_batch"…):
# name → function(record_id) → attributes or None.  Domain modules register theirs.
RECORD_SOURCES: dict[str, Callable[[Any], Mapping[str, Any] | None]] = {}
# Attendance registers ("course:12" → the "course" one): prefix → function(rest of the
# key, instance id) → (sessions attended, sessions held) or None.
ATTENDANCE_REGISTERS: dict[str, Callable[[str, Any], tuple[int, int] | None]] = {}


_UNITS_READ = "directory_units"
_CALENDAR_KEY = "unionflow_calendar"


@event.listens_for(Session, "after_transaction_end")
def _forget_units(session: Session, transaction) -> None:
    if transaction.parent is None:  # committed or rolled back: read them again
        session.info.pop(_UNITS_READ, None)


def _memberships_changed() -> bool:
    """Whether this session holds roles granted or taken away and not yet flushed (a
    loaded ``user.memberships`` may not show them)."""
    return org_cache.pending_writes(db.session(), (Membership,))


@dataclass(frozen=True, slots=True)
class _UnitCopy:
    """What the directory reads of a unit, kept in this process's copy of the
    organisation (``org_cache``) — not a row of any session."""

    id: int
    code: str
    kind: str
    parent_id: int | None
    name: str
    path: str
    name_en: str | None = None

    def label(self, locale: str = "zh") -> str:
        """As ``OrgUnit.label``: the name shown in ``locale``."""
        if locale.startswith("en") and self.name_en:
            return self.name_en
        return self.name

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]


def _as_unit(row) -> Unit:
    return Unit(row.id, row.code, row.kind, row.parent_id, row.name, row.name_en)


def _take_place(resource: str, *, queue_number: bool):
    """Take one place if one is free: the resource's next queue number (or its key), or
    None when it is full or closed.

    One conditional UPDATE is the whole race: concurrent callers queue on the row
    (PostgreSQL re-checks the WHERE after the lock; SQLite has one writer at a time).
    """
    values = {"granted": CapacityResource.granted + 1}
    if queue_number:
        values["next_seq"] = CapacityResource.next_seq + 1
    return db.session.execute(
        update(CapacityResource)
        .where(CapacityResource.key == resource, CapacityResource.closed.is_(False),
               CapacityResource.capacity.is_(None)
               | (CapacityResource.granted < CapacityResource.capacity))
        .values(**values)
        .returning(CapacityResource.next_seq if queue_number else CapacityResource.key)
    ).scalar()


def _take_waiting_place(resource: str):
    """The resource's next queue number, for a place on its waiting list; None when it
    is closed.  As ``_take_place``, the conditional UPDATE decides a race with
    ``close_resource``: whichever locks the row first, the other sees what it did."""
    return db.session.execute(
        update(CapacityResource)
        .where(CapacityResource.key == resource, CapacityResource.closed.is_(False))
        .values(next_seq=CapacityResource.next_seq + 1)
        .returning(CapacityResource.next_seq)).scalar()


def open_requests(process_key: str, user_id):
    """SELECT of the ids of ``user_id``'s open requests of the process — not the row of
    one being started right now."""
    return select(Instance.id).where(Instance.process_key == process_key,
                                     Instance.applicant_id == user_id,
                                     Instance.closed_at.is_(None),
                                     Instance.status != "starting")


def set_places(resource: str, capacity: int) -> list:
    """Make ``capacity`` the resource's number of places, creating the resource if new;
    returns the instances moved from its waiting list into places that are now free.

    Places already given are kept: a capacity below them gives nobody a place until
    enough are given back.  The resource's row is locked first, so a simultaneous
    ``reserve`` or ``release`` waits and then sees the new number and who moved up (those
    waiting take new places before any newcomer)."""
    row = _locked_resource(resource)
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(CapacityResource(key=resource, capacity=capacity, granted=0,
                                                next_seq=1))
            return []
        except IntegrityError:
            row = _locked_resource(resource)  # created by a concurrent transaction
    row.capacity = capacity
    free, waiting = capacity - row.granted, []
    if free > 0 and not row.closed:  # closed: nobody waiting is given a place
        waiting = db.session.scalars(
            select(Reservation).where(Reservation.resource_key == resource,
                                      Reservation.status == WAITLISTED)
            .order_by(Reservation.seq).limit(free).with_for_update()).all()
    for reservation in waiting:
        reservation.status = GRANTED
    row.granted += len(waiting)
    db.session.flush()
    return [reservation.instance_id for reservation in waiting]


def close_resource(resource: str) -> None:
    """Close the resource for good (what it counts places for is called off): from now
    on ``reserve`` refuses every newcomer, to a place or to its waiting list, and a place
    given back goes to nobody.  The caller ends the reservations it holds.

    The row is locked first (created closed if there is none yet): a ``reserve`` that
    took a place or a waiting place before has committed when this goes on, so the caller
    sees it and ends it; one after finds the resource closed and is refused — never a
    place on something called off."""
    row = _locked_resource(resource)
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(CapacityResource(key=resource, capacity=0, granted=0,
                                                next_seq=1, closed=True))
            return
        except IntegrityError:
            row = _locked_resource(resource)  # created by a concurrent transaction
    row.closed = True
    db.session.flush()


def _locked_resource(resource: str) -> CapacityResource | None:
    return db.session.scalar(select(CapacityResource).where(CapacityResource.key == resource)
                             .with_for_update().execution_options(populate_existing=True))


# The organisation's units, read whole into this process's copy at its first miss (a
# city: ~8,400 rows, ~3 MB, once per process and change of the organisation): every
# step then finds its units and their ancestors without a query of its own.  A larger
# organisation is read unit by unit as before.
ALL_UNITS = "all_units"
PRELOAD_UNITS = 20_000
_ALL_UNITS = (select(OrgUnit.id, OrgUnit.code, OrgUnit.kind, OrgUnit.parent_id, OrgUnit.name,
                     OrgUnit.path, OrgUnit.name_en).order_by(OrgUnit.id).limit(bindparam("n")))


_TOO_MANY_UNITS = "unionflow_too_many_units"  # app.extensions: found larger once


def _copy_all_units(cache: dict) -> None:
    extensions = current_app.extensions
    if extensions.get(_TOO_MANY_UNITS):  # an organisation does not shrink that much
        cache[ALL_UNITS] = False
        return
    rows = db.session.execute(_ALL_UNITS, {"n": PRELOAD_UNITS + 1}).all()
    whole = len(rows) <= PRELOAD_UNITS
    if whole:
        for row in rows:
            cache[("unit", row[0])] = _UnitCopy(*row)
    else:
        extensions[_TOO_MANY_UNITS] = True
    cache[ALL_UNITS] = whole  # tried under this generation: not again


def _unit_row(user_id) -> tuple | None:
    """(unit_id,) of the person, a plain tuple to keep; None if there is no such person."""
    row = db.session.execute(select(User.unit_id).where(User.id == user_id)).first()
    return None if row is None else tuple(row)


class DbDirectory:
    """The engine's view of the database for one call: units and people's roles are read
    once per call (an approval asks for the same person's roles several times)."""

    def __init__(self, unit_paths: Mapping[int, str] | None = None, *,
                 current_version: Callable[[], bool] | None = None) -> None:
        """``unit_paths``: paths the caller believes units have (an instance's unit and
        its stored ``unit_path``): the first read of such a unit reads its ancestors in
        the same query.  Only a hint — the rows read are what is used; a unit that has
        moved since has its real ancestors read as usual.  ``current_version``: whether
        the instance acted on runs its process's current version (asked only when a
        definition's capacity is to be set; None: it does, as a new start)."""
        self._current_version = current_version
        # Units read in this transaction, shared by every directory of it (an API
        # approval asks one for the buttons, the step another): the same rows, kept
        # alive here because the session's identity map holds them only weakly.
        self._units: dict[int, OrgUnit] = db.session.info.setdefault(_UNITS_READ, {})
        if self._units and org_cache.wrote_organisation():
            # Copies of units the transaction has since changed would hide its change.
            for unit_id in [i for i, row in self._units.items() if isinstance(row, _UnitCopy)]:
                del self._units[unit_id]
        self._roles: dict[int, list[tuple[str, int]]] = {}
        self._hints = dict(unit_paths or {})
        self._savepoint = None

    # -------------------------------------------------------------- its writes
    def _writing(self) -> None:
        """Before the first write (a place taken or given back): a savepoint, so a step
        the engine then refuses gives its places back (``undo_writes``).  A step that
        writes nothing here — most of them — costs no SAVEPOINT/RELEASE."""
        if self._savepoint is None:
            self._savepoint = db.session.begin_nested()

    def undo_writes(self) -> None:
        """The step was refused: take back what this directory wrote."""
        savepoint, self._savepoint = self._savepoint, None
        if savepoint is not None and savepoint.is_active:
            savepoint.rollback()

    def keep_writes(self) -> None:
        """The step went through: its writes join the caller's transaction."""
        savepoint, self._savepoint = self._savepoint, None
        if savepoint is not None and savepoint.is_active:
            savepoint.commit()

    # -------------------------------------------------------------- organisation
    def unit_row(self, unit_id):
        """The unit's row (its ``id`` and ``path``…) as this transaction sees it, or None:
        a row of this session or this process's copy of it (``org_cache``)."""
        if not isinstance(unit_id, int) or isinstance(unit_id, bool):
            return None
        hint = self._hints.pop(unit_id, None) if self._hints else None
        if unit_id not in self._units:
            ids = [unit_id]
            if hint:
                from_path = [int(part) for part in hint.strip("/").split("/") if part.isdigit()]
                if from_path and from_path[-1] == unit_id:
                    ids = from_path
            self._fill(ids)
        return self._units.get(unit_id)

    def _fill(self, ids: list[int]) -> None:
        """Units ``ids`` into ``self._units``: rows this session holds, else this
        process's copy of the organisation, else one query (its rows go into the copy)."""
        missing = []
        for i in ids:
            if i not in self._units:
                row = loaded(OrgUnit, i)
                if row is not None:
                    self._units[i] = row
                else:
                    missing.append(i)
        if not missing:
            return
        cache = org_cache.store()
        if cache is not None:
            if ALL_UNITS not in cache:
                _copy_all_units(cache)
            copies = {i: cache.get(("unit", i)) for i in missing}
            self._units.update({i: copy for i, copy in copies.items() if copy is not None})
            missing = [i for i, copy in copies.items() if copy is None]
            if not missing:
                return
        for row in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(missing))):
            self._units[row.id] = row
            if cache is not None:
                cache[("unit", row.id)] = _UnitCopy(row.id, row.code, row.kind, row.parent_id,
                                                    row.name, row.path, row.name_en)

    def unit(self, unit_id) -> Unit | None:
        row = self.unit_row(unit_id)
        return _as_unit(row) if row is not None else None

    def unit_by_code(self, code: str) -> Unit | None:
        row = db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))
        if row is None:
            return None
        self._units[row.id] = row
        return _as_unit(row)

    def ancestors(self, unit_id) -> list[Unit]:
        row = self.unit_row(unit_id)
        if row is None:
            return []
        self._fill(row.ancestor_ids)
        return [_as_unit(self._units[i]) for i in reversed(row.ancestor_ids) if i in self._units]

    def unit_of(self, user_id) -> int | None:
        user = loaded(User, user_id)
        if user is not None:
            return user.unit_id
        # (unit_id,) of someone who exists — kept, even without a unit; None for no one
        # (not kept: adding a person does not change the organisation's generation).
        found = self._through_copy(("unit_of", user_id), lambda: _unit_row(user_id),
                                   keep_none=False)
        return found[0] if found is not None else None

    def roles_of(self, user_id) -> list[tuple[str, int]]:
        if user_id not in self._roles:
            user = loaded(User, user_id)
            shared = user is not None and not _memberships_changed()
            if shared and "memberships" in inspect(user).dict:
                # Already loaded (the access checks read them): shared with them.
                roles = [(m.role, m.unit_id) for m in user.memberships]
            else:
                cache = org_cache.store()
                roles = cache.get(("roles", user_id)) if cache is not None else None
                if roles is None:
                    if shared:  # through the person's row: read once per transaction
                        roles = [(m.role, m.unit_id) for m in user.memberships]
                    else:
                        roles = [(role, unit_id) for role, unit_id in db.session.execute(
                            select(Membership.role, Membership.unit_id)
                            .where(Membership.user_id == user_id).order_by(Membership.id))]
                    if cache is not None:
                        cache[("roles", user_id)] = roles
            self._roles[user_id] = roles
        return list(self._roles[user_id])

    def users_with_role(self, role: str, unit_id, *, inherit: bool = True) -> list[int]:
        row = self.unit_row(unit_id)
        if row is None:
            return []
        unit_ids = tuple(row.ancestor_ids if inherit else [row.id])
        return list(self._through_copy(("holders", role, unit_ids), lambda: tuple(
            db.session.scalars(select(Membership.user_id)
                               .join(User, User.id == Membership.user_id)
                               .where(Membership.role == role,
                                      Membership.unit_id.in_(unit_ids),
                                      User.active.is_(True))
                               .distinct().order_by(Membership.user_id)))))

    @staticmethod
    def _through_copy(key, read, *, keep_none: bool = True):
        """``read()``'s answer, from this process's copy of the organisation when it has
        it for the organisation as this transaction sees it.  ``keep_none=False``: a
        None answer is not kept (someone who does not exist yet: adding a person does
        not change the organisation's generation)."""
        cache = org_cache.store()
        if cache is None:
            return read()
        if key not in cache:
            answer = read()
            if answer is None and not keep_none:
                return None
            cache[key] = answer
        return cache[key]

    def paired_unit(self, unit_id) -> int | None:
        row = db.session.execute(
            select(Pairing.branch_id, Pairing.station_id)
            .where(Pairing.ended_on.is_(None),
                   (Pairing.branch_id == unit_id) | (Pairing.station_id == unit_id))
            .order_by(Pairing.id)).first()
        if row is None:
            return None
        return row.station_id if row.branch_id == unit_id else row.branch_id

    def record(self, source: str, record_id) -> Mapping[str, Any] | None:
        lookup = RECORD_SOURCES.get(source)
        return lookup(record_id) if lookup else None

    def overlaps(self, process_key: str, user_id, field: str, source: str, starts_at,
                 ends_at) -> bool:
        # Open instances of the person (the one being started is still "starting").
        for data in db.session.scalars(select(Instance.state["data"]).where(
                Instance.process_key == process_key, Instance.applicant_id == user_id,
                Instance.closed_at.is_(None), Instance.status != "starting")):
            other = self.record(source, (data or {}).get(field)) or {}
            if other.get("starts_at") is not None and other["starts_at"] < ends_at \
                    and starts_at < other["ends_at"]:
                return True
        return False

    def has_ended(self, process_key: str, user_id, unique_key: str,
                  statuses: tuple[str, ...]) -> bool:
        return db.session.scalar(select(Instance.id).where(
            Instance.process_key == process_key, Instance.applicant_id == user_id,
            Instance.unique_key == unique_key, Instance.status.in_(statuses)).limit(1)) is not None

    def has_active(self, process_key: str, user_id, unique_key: str | None) -> bool:
        stmt = open_requests(process_key, user_id)
        if unique_key is not None:
            stmt = stmt.where(Instance.unique_key == unique_key)
        return db.session.scalar(stmt.limit(1)) is not None

    # -------------------------------------------------------------- capacity
    def reserve(self, resource: str, instance_id, capacity: int | None, *,
                waitlist: bool) -> str:
        self._writing()
        existing = db.session.scalar(select(Reservation).where(
            Reservation.resource_key == resource, Reservation.instance_id == instance_id,
            Reservation.status != "released"))
        if existing is not None:
            return GRANTED if existing.status == "granted" else WAITLISTED
        if not self._ensure_resource(resource, capacity):
            return REFUSED
        took = _take_place(resource, queue_number=True)
        if took is not None:
            self._add_reservation(resource, instance_id, GRANTED, took - 1)
            return GRANTED
        if not waitlist:
            return REFUSED
        seq = _take_waiting_place(resource)
        if seq is None:  # closed (perhaps while this waited for the row): no waiting list
            return REFUSED
        self._add_reservation(resource, instance_id, WAITLISTED, seq - 1)
        return WAITLISTED

    def set_capacity(self, resource: str, capacity: int) -> list:
        """A definition's capacity for the resource (see ``set_places``) — unless the
        instance runs an older version of its definition, whose number must not undo the
        current one's: then nothing changes."""
        if self._current_version is not None and not self._current_version():
            return []
        self._writing()
        return set_places(resource, capacity)

    def release(self, resource: str, instance_id):
        self._writing()
        held = db.session.scalar(select(Reservation).where(
            Reservation.resource_key == resource, Reservation.instance_id == instance_id,
            Reservation.status != "released").with_for_update())
        if held is None:
            return None
        was_granted = held.status == "granted"
        held.status = "released"
        db.session.flush()
        if not was_granted:
            return None
        db.session.execute(update(CapacityResource).where(CapacityResource.key == resource)
                           .values(granted=CapacityResource.granted - 1))
        first = db.session.scalar(
            select(Reservation).where(Reservation.resource_key == resource,
                                      Reservation.status == WAITLISTED)
            .order_by(Reservation.seq).limit(1).with_for_update())
        if first is None:
            return None
        if _take_place(resource, queue_number=False) is None:
            return None
        first.status = GRANTED
        db.session.flush()
        return first.instance_id

    def _ensure_resource(self, resource: str, capacity: int | None) -> bool:
        if db.session.get(CapacityResource, resource) is not None:
            return True
        if capacity is None:
            return False  # a resource nobody set up has no places
        try:
            with db.session.begin_nested():
                db.session.add(CapacityResource(key=resource, capacity=capacity, granted=0,
                                                next_seq=1))
        except IntegrityError:
            pass  # created by a concurrent transaction: use theirs
        return True

    @staticmethod
    def _add_reservation(resource: str, instance_id, status: str, seq: int) -> None:
        db.session.add(Reservation(resource_key=resource, instance_id=instance_id,
                                   status=status, seq=seq))
        db.session.flush()

    def attendance(self, register: str, instance_id) -> tuple[int, int] | None:
        prefix, _, rest = register.partition(":")
        lookup = ATTENDANCE_REGISTERS.get(prefix)
        return lookup(rest, instance_id) if lookup else None

    # -------------------------------------------------------------- calendar
    def calendar(self) -> WorkCalendar:
        """Holidays and make-up working days around today — announced months ahead, so
        read at most every CALENDAR_CACHE_SECONDS per process, not in every step that
        opens a task with a deadline."""
        today = date.today()

        def load() -> WorkCalendar:
            rows = db.session.execute(select(CalendarDay.day, CalendarDay.working).where(
                CalendarDay.day.between(today - timedelta(days=60),
                                        today + timedelta(days=400))))
            holidays, workdays = set(), set()
            for day, working in rows:
                (workdays if working else holidays).add(day)
            return today, WorkCalendar(frozenset(holidays), frozenset(workdays),
                                       tz=_calendar_zone())

        day, calendar = process_cache.cached(_CALENDAR_KEY, "CALENDAR_CACHE_SECONDS", load, 300)
        if day != today:  # read around another day: the window has moved
            process_cache.forget(_CALENDAR_KEY)
            day, calendar = process_cache.cached(_CALENDAR_KEY, "CALENDAR_CACHE_SECONDS", load)
        return calendar


def _calendar_zone() -> ZoneInfo:
    """Where working days are counted: the installation's time zone (China time)."""
    from flask import has_app_context

    name = current_app.config.get("BABEL_DEFAULT_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or "Asia/Shanghai")
