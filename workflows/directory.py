"""What the engine needs to know about people, units and shared capacity.

The web layer implements ``Directory`` over the database (``workflows.memory`` has the
in-memory one the tests use).  User and unit ids are whatever the database uses
(ints in UnionFlow); the engine only compares and stores them.
"""
from __future__ import annotations

from typing import Any, Hashable, Mapping, NamedTuple, Protocol, Sequence, runtime_checkable

from workflows.durations import WorkCalendar

UserId = Hashable
UnitId = Hashable
InstanceId = Hashable

GRANTED = "granted"
WAITLISTED = "waitlisted"
REFUSED = "refused"
RESERVATION_RESULTS = frozenset({GRANTED, WAITLISTED, REFUSED})


class Unit(NamedTuple):
    id: UnitId
    code: str
    kind: str  # one of workflows.org.UNIT_KIND_KEYS
    parent_id: UnitId | None
    name: str
    name_en: str | None = None  # for messages in English, where a directory knows it


@runtime_checkable
class Directory(Protocol):
    """Read access to the organisation, plus the capacity port.

    Role semantics: a role held at a unit covers that unit and everything below it.
    """

    def unit(self, unit_id: UnitId) -> Unit | None:
        """The unit with this id, or None."""

    def unit_by_code(self, code: str) -> Unit | None:
        """The unit with this code (e.g. "cq.yuzhong"), or None."""

    def ancestors(self, unit_id: UnitId) -> Sequence[Unit]:
        """The unit and every unit above it, nearest first (itself, parent, …, root)."""

    def unit_of(self, user_id: UserId) -> UnitId | None:
        """The user's home unit (where an applicant belongs), or None."""

    def roles_of(self, user_id: UserId) -> Sequence[tuple[str, UnitId]]:
        """Every (role, unit id) the user holds."""

    def users_with_role(self, role: str, unit_id: UnitId, *,
                        inherit: bool = True) -> Sequence[UserId]:
        """Who holds ``role`` at ``unit_id`` — with ``inherit``, also at any unit above it.

        Used for approvers and other named assignees: the result is small (the admins of
        one unit).  Pools of claimers are never listed this way.
        """

    def paired_unit(self, unit_id: UnitId) -> UnitId | None:
        """The unit paired with this one (a party branch ↔ a station), or None."""

    def record(self, source: str, record_id: Any) -> Mapping[str, Any] | None:
        """Attributes of a record field's value (a course, a retreat batch), or None."""

    def overlaps(self, process_key: str, user_id: UserId, field: str, source: str,
                 starts_at: Any, ends_at: Any) -> bool:
        """Whether another open instance of the user's, of this process, holds in
        ``field`` a record (from ``source``) whose [starts_at, ends_at) meets this one."""

    def has_active(self, process_key: str, user_id: UserId, unique_key: str | None) -> bool:
        """Whether the user already has a running instance of the process.

        With ``unique_key`` (e.g. "slot:42"), only instances started with that key count.
        """

    def has_ended(self, process_key: str, user_id: UserId, unique_key: str,
                  statuses: tuple[str, ...]) -> bool:
        """Whether an instance of the user's with ``unique_key`` ended in one of
        ``statuses`` (e.g. a retreat already taken this year)."""

    def reserve(self, resource: str, instance_id: InstanceId, capacity: int | None, *,
                waitlist: bool) -> str:
        """Take a place of a shared resource for an instance: GRANTED, WAITLISTED or REFUSED.

        ``capacity`` is from the definition, or None when the resource knows its own
        (a course's seats, a unit's quota).  Must be atomic (row lock); asking again for
        an instance that already holds or waits for a place returns its current status.
        A resource its owner has closed (what it counts places for is called off) gives
        no place and no waiting place: REFUSED.
        """

    def set_capacity(self, resource: str, capacity: int) -> Sequence[InstanceId]:
        """Make ``capacity`` the resource's number of places (creating it if new).

        Places already given are never taken back: below them, nobody new gets one until
        enough are given back.  When places grow, those waiting take them in their order;
        returns their ids (the engine emits ``Promoted`` for each).  Atomic (row lock),
        like ``reserve``.  A directory may keep the number it has and return nothing (the
        web layer does when the instance runs an older version of its definition).
        """

    def release(self, resource: str, instance_id: InstanceId) -> InstanceId | None:
        """Give the instance's place (or waiting-list entry) back.

        Returns the id of the waiting instance promoted into the freed place, if any;
        the engine then emits ``Promoted`` so the web layer wakes that instance.
        """

    def calendar(self) -> WorkCalendar:
        """Holidays and make-up working days, for durations in working days."""

    def attendance(self, register: str, instance_id: InstanceId) -> tuple[int, int] | None:
        """(sessions attended, sessions held) of an instance in a register such as
        "course:12", or None when there is no such register."""
