"""An in-memory ``Directory`` for tests, demos and trying definitions out.

It behaves like the database-backed one the web layer provides, including the capacity
port (first come first served, waiting list, promotion on release).  ``track(state)``
tells it which instances are running, for "one active per applicant".
"""
from __future__ import annotations

from datetime import date
from typing import Any, Hashable, Iterable, Mapping

from workflows.directory import GRANTED, REFUSED, WAITLISTED, Unit
from workflows.durations import WorkCalendar
from workflows.org import ROLE_KEYS, UNIT_KIND_KEYS
from workflows.state import InstanceState


class MemoryDirectory:
    def __init__(self) -> None:
        self.units: dict[Hashable, Unit] = {}
        self.homes: dict[Hashable, Hashable] = {}
        self.memberships: list[tuple[Hashable, str, Hashable]] = []  # (user, role, unit)
        self.pairs: dict[Hashable, Hashable] = {}
        self.records: dict[tuple[str, Any], dict[str, Any]] = {}
        self.capacities: dict[str, int] = {}
        self.holders: dict[str, list[Hashable]] = {}
        self.waiting: dict[str, list[Hashable]] = {}
        self.active: dict[Hashable, tuple[str, Hashable, str | None]] = {}
        self.active_data: dict[Hashable, dict[str, Any]] = {}
        self.ended: dict[Hashable, tuple[str, Hashable, str | None, str]] = {}
        self.holidays: set[date] = set()
        self.workdays: set[date] = set()
        # register → total sessions, and (register, instance) → sessions attended
        self.sessions: dict[str, int] = {}
        self.attended: dict[tuple[str, Hashable], int] = {}

    # ---------------------------------------------------------------- building
    def add_unit(self, unit_id: Hashable, code: str, kind: str, parent: Hashable | None = None,
                 name: str | None = None) -> Unit:
        if kind not in UNIT_KIND_KEYS:
            raise ValueError(f"unknown unit kind {kind!r}")
        if parent is not None and parent not in self.units:
            raise ValueError(f"unknown parent unit {parent!r}")
        unit = Unit(unit_id, code, kind, parent, name or code)
        self.units[unit_id] = unit
        return unit

    def add_user(self, user: Hashable, unit: Hashable | None = None,
                 roles: Iterable[tuple[str, Hashable]] = ()) -> None:
        if unit is not None:
            self.homes[user] = unit
        for role, at in roles:
            self.grant(user, role, at)

    def grant(self, user: Hashable, role: str, unit: Hashable) -> None:
        if role not in ROLE_KEYS:
            raise ValueError(f"unknown role {role!r}")
        if unit not in self.units:
            raise ValueError(f"unknown unit {unit!r}")
        self.memberships.append((user, role, unit))

    def pair(self, branch: Hashable, station: Hashable) -> None:
        self.pairs[branch] = station
        self.pairs[station] = branch

    def add_record(self, source: str, record_id: Any, **attributes: Any) -> None:
        self.records[(source, record_id)] = dict(attributes)

    def set_capacity(self, resource: str, capacity: int) -> list[Hashable]:
        """The resource's places (a course's seats, or a definition's ``capacity``);
        those waiting take the new ones, first come first served: their ids."""
        self.capacities[resource] = capacity
        holders = self.holders.setdefault(resource, [])
        waiting = self.waiting.setdefault(resource, [])
        promoted = []
        while waiting and len(holders) < capacity:
            promoted.append(waiting.pop(0))
            holders.append(promoted[-1])
        return promoted

    def track(self, state: InstanceState) -> None:
        """Remember whether an instance is running (call after each start/act)."""
        if state.finished:
            self.active.pop(state.instance_id, None)
            self.active_data.pop(state.instance_id, None)
            self.ended[state.instance_id] = (state.process, state.applicant, state.unique_key,
                                             state.status)
        else:
            self.active[state.instance_id] = (state.process, state.applicant, state.unique_key)
            self.active_data[state.instance_id] = dict(state.data)

    # ---------------------------------------------------------------- Directory
    def unit(self, unit_id: Hashable) -> Unit | None:
        return self.units.get(unit_id)

    def unit_by_code(self, code: str) -> Unit | None:
        return next((u for u in self.units.values() if u.code == code), None)

    def ancestors(self, unit_id: Hashable) -> list[Unit]:
        chain = []
        unit = self.units.get(unit_id)
        while unit is not None and len(chain) < 64:
            chain.append(unit)
            unit = self.units.get(unit.parent_id) if unit.parent_id is not None else None
        return chain

    def unit_of(self, user_id: Hashable) -> Hashable | None:
        return self.homes.get(user_id)

    def roles_of(self, user_id: Hashable) -> list[tuple[str, Hashable]]:
        return [(role, unit) for user, role, unit in self.memberships if user == user_id]

    def users_with_role(self, role: str, unit_id: Hashable, *, inherit: bool = True) -> list:
        units = [u.id for u in self.ancestors(unit_id)] if inherit else [unit_id]
        return list(dict.fromkeys(user for user, r, u in self.memberships
                                  if r == role and u in units))

    def paired_unit(self, unit_id: Hashable) -> Hashable | None:
        return self.pairs.get(unit_id)

    def record(self, source: str, record_id: Any) -> Mapping[str, Any] | None:
        return self.records.get((source, record_id))

    def overlaps(self, process_key: str, user_id: Hashable, field: str, source: str,
                 starts_at: Any, ends_at: Any) -> bool:
        for instance_id, (process, user, _key) in self.active.items():
            if process != process_key or user != user_id:
                continue
            other = self.records.get((source, self.active_data[instance_id].get(field))) or {}
            if other.get("starts_at") is not None and other["starts_at"] < ends_at \
                    and starts_at < other["ends_at"]:
                return True
        return False

    def has_ended(self, process_key: str, user_id: Hashable, unique_key: str,
                  statuses: tuple[str, ...]) -> bool:
        return any(p == process_key and u == user_id and k == unique_key and status in statuses
                   for p, u, k, status in self.ended.values())

    def has_active(self, process_key: str, user_id: Hashable, unique_key: str | None) -> bool:
        return any(p == process_key and u == user_id and (unique_key is None or k == unique_key)
                   for p, u, k in self.active.values())

    def reserve(self, resource: str, instance_id: Hashable, capacity: int | None, *,
                waitlist: bool) -> str:
        holders = self.holders.setdefault(resource, [])
        waiting = self.waiting.setdefault(resource, [])
        if instance_id in holders:
            return GRANTED
        if instance_id in waiting:
            return WAITLISTED
        limit = self.capacities.get(resource, capacity)
        if limit is None:
            return REFUSED  # a resource nobody set up has no places
        if len(holders) < limit:
            holders.append(instance_id)
            return GRANTED
        if waitlist:
            waiting.append(instance_id)
            return WAITLISTED
        return REFUSED

    def release(self, resource: str, instance_id: Hashable) -> Hashable | None:
        holders = self.holders.setdefault(resource, [])
        waiting = self.waiting.setdefault(resource, [])
        if instance_id in waiting:
            waiting.remove(instance_id)
            return None
        if instance_id not in holders:
            return None
        holders.remove(instance_id)
        limit = self.capacities.get(resource)
        if waiting and (limit is None or len(holders) < limit):
            promoted = waiting.pop(0)
            holders.append(promoted)
            return promoted
        return None

    def calendar(self) -> WorkCalendar:
        return WorkCalendar(frozenset(self.holidays), frozenset(self.workdays))

    def attendance(self, register: str, instance_id: Hashable) -> tuple[int, int] | None:
        if register not in self.sessions:
            return None
        return self.attended.get((register, instance_id), 0), self.sessions[register]
