"""The state of one running process instance: plain, immutable, JSON-storable.

``InstanceState.to_dict()`` gives JSON-ready data (ISO times) carrying
``SCHEMA_VERSION``; ``InstanceState.from_dict()`` reads it back and refuses versions
it does not know, so an old row is never misread.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Hashable, Mapping

from workflows.errors import StateError

SCHEMA_VERSION = 1


# Exact types that freeze and thaw give back as they are: checked first, as most values
# are these and the Mapping check (an ABC) is slow.
_PLAIN = frozenset({str, int, float, bool, type(None)})


def freeze(value: Any) -> Any:
    """A read-only copy: mappings become mapping proxies, lists become tuples."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict or kind is MappingProxyType or isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if kind is list or kind is tuple:
        return tuple(freeze(v) for v in value)
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """JSON-ready data from frozen data (times as ISO text, decimals as text)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    # Exact types first (every state is made of these): the ABC checks below cost
    # about half of saving a state.
    if kind is dict or kind is MappingProxyType:
        return {str(k): thaw(v) for k, v in value.items()}
    if kind is tuple or kind is list:
        return [thaw(v) for v in value]
    if kind is datetime or kind is date:
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


@dataclass(frozen=True)
class Decision:
    """One person's act on a task: approve, reject, return, claim, object, complete…"""

    by: Hashable
    action: str
    at: datetime
    comment: str | None = None


@dataclass(frozen=True)
class Pool:
    """Who may claim a pooled task, as data the web layer can query its inbox by."""

    role: str | None
    unit: Hashable | None
    within: bool = True
    anyone: bool = False


@dataclass(frozen=True)
class Task:
    """A piece of work in a step: for named people (assignees) or for a pool."""

    id: str
    step: str
    kind: str
    opened_at: datetime
    assignees: tuple = ()
    pool: Pool | None = None
    claimed_by: tuple = ()
    decisions: tuple[Decision, ...] = ()
    closed_at: datetime | None = None
    outcome: str | None = None
    escalated: tuple = ()  # people added by escalation (also in assignees)
    # Overdue, and its escalation found nobody above: administrators may reassign it.
    stalled: bool = False

    @property
    def open(self) -> bool:
        return self.closed_at is None

    def decided_by(self, user: Hashable) -> Decision | None:
        return next((d for d in self.decisions if d.by == user and d.action != "comment"), None)


@dataclass(frozen=True)
class HistoryEntry:
    """One line of the append-only audit trail."""

    at: datetime
    actor: Hashable | None
    action: str
    step: str | None = None
    task: str | None = None
    comment: str | None = None
    changes: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ClaimGroup:
    """The people who claimed a claim step (and those waiting for a place)."""

    step: str
    capacity: int
    claimers: tuple = ()
    waitlist: tuple = ()


@dataclass(frozen=True)
class Reservation:
    """A place this instance holds or waits for in a shared resource."""

    resource: str
    status: str  # granted | waitlisted
    step: str


@dataclass(frozen=True)
class TimerRef:
    key: str
    at: datetime
    purpose: str  # remind | escalate | timeout | wait
    task: str | None


@dataclass(frozen=True)
class InstanceState:
    """Everything the engine knows about one instance; replace it, never mutate it."""

    instance_id: Hashable
    process: str
    definition_digest: str
    applicant: Hashable
    applicant_unit: Hashable | None
    status: str
    started_at: datetime
    current: tuple[str, ...] = ()
    tasks: tuple[Task, ...] = ()
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    version: int = 0
    history: tuple[HistoryEntry, ...] = ()
    claim: ClaimGroup | None = None
    reservations: tuple[Reservation, ...] = ()
    timers: tuple[TimerRef, ...] = ()
    end: str | None = None
    ended_at: datetime | None = None
    unique_key: str | None = None
    task_counter: int = 0
    schema: int = SCHEMA_VERSION

    @property
    def finished(self) -> bool:
        return self.ended_at is not None

    @property
    def open_tasks(self) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if t.open)

    def task(self, task_id: str) -> Task | None:
        return next((t for t in self.tasks if t.id == task_id), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data for storage (see ``from_dict``)."""
        return _json(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> InstanceState:
        """Read stored state; ``StateError`` for an unknown schema or broken data."""
        schema = raw.get("schema") if isinstance(raw, Mapping) else None
        if schema != SCHEMA_VERSION:
            raise StateError("流程数据版本不受支持", f"Unsupported state schema {schema!r}")
        try:
            return _load_state(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(en=f"The saved process state cannot be read ({exc})") from None


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _json(value: Any) -> Any:
    """The state's dataclasses as dicts, their values thawed — in one pass."""
    names = _FIELD_NAMES.get(type(value))
    if names is None:
        if not hasattr(value, "__dataclass_fields__"):
            return thaw(value)
        names = _FIELD_NAMES[type(value)] = tuple(f.name for f in fields(value))
    out = {}
    for name in names:
        item = getattr(value, name)
        kind = type(item)
        if kind in _PLAIN:
            out[name] = item
        elif kind is tuple:
            out[name] = [_json(v) for v in item]
        else:
            out[name] = _json(item)
    return out


def _load_state(raw: Mapping[str, Any]) -> InstanceState:
    claim = raw.get("claim")
    if not isinstance(raw.get("data", {}), Mapping):
        raise TypeError("data is not a mapping")
    return InstanceState(
        instance_id=raw["instance_id"], process=raw["process"],
        definition_digest=raw["definition_digest"], applicant=raw["applicant"],
        applicant_unit=raw.get("applicant_unit"), status=raw["status"],
        started_at=_time(raw["started_at"]),
        current=tuple(raw.get("current", ())),
        tasks=tuple(_load_task(t) for t in raw.get("tasks", ())),
        data=freeze(raw.get("data", {})), version=int(raw["version"]),
        history=tuple(_load_entry(h) for h in raw.get("history", ())),
        claim=None if claim is None else ClaimGroup(
            claim["step"], int(claim["capacity"]), tuple(claim.get("claimers", ())),
            tuple(claim.get("waitlist", ()))),
        reservations=tuple(Reservation(r["resource"], r["status"], r["step"])
                           for r in raw.get("reservations", ())),
        timers=tuple(TimerRef(t["key"], _time(t["at"]), t["purpose"], t.get("task"))
                     for t in raw.get("timers", ())),
        end=raw.get("end"), ended_at=_time(raw.get("ended_at")),
        unique_key=raw.get("unique_key"), task_counter=int(raw.get("task_counter", 0)))


def _load_task(raw: Mapping[str, Any]) -> Task:
    pool = raw.get("pool")
    return Task(
        id=raw["id"], step=raw["step"], kind=raw["kind"], opened_at=_time(raw["opened_at"]),
        assignees=tuple(raw.get("assignees", ())),
        pool=None if pool is None else Pool(pool["role"], pool["unit"], pool["within"],
                                            pool.get("anyone", False)),
        claimed_by=tuple(raw.get("claimed_by", ())),
        decisions=tuple(Decision(d["by"], d["action"], _time(d["at"]), d.get("comment"))
                        for d in raw.get("decisions", ())),
        closed_at=_time(raw.get("closed_at")), outcome=raw.get("outcome"),
        escalated=tuple(raw.get("escalated", ())), stalled=bool(raw.get("stalled", False)))


def _load_entry(raw: Mapping[str, Any]) -> HistoryEntry:
    return HistoryEntry(
        at=_time(raw["at"]), actor=raw.get("actor"), action=raw["action"],
        step=raw.get("step"), task=raw.get("task"), comment=raw.get("comment"),
        changes=freeze(raw.get("changes", {})), details=freeze(raw.get("details", {})))


def with_changes(state: InstanceState, **changes: Any) -> InstanceState:
    return replace(state, **changes)
