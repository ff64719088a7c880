"""Effects: what the web layer must do after saving an engine step, as plain data.

The engine never sends mail or schedules jobs itself.  ``start``/``act`` return effects;
the web layer stores them in the same transaction as the new state and carries them out
after the commit (``effect_to_dict``/``effect_from_dict`` for an outbox table).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from types import MappingProxyType
from typing import Any, Hashable, Mapping

from workflows.state import freeze, thaw


@dataclass(frozen=True)
class Notify:
    """Tell these people something; ``title_key``/``params`` are for the message catalogue.

    ``kind``: task_assigned, sent_back, reminder, escalated, escalated_watch, stalled, returned,
    ended, corrected, objection, promoted, claimed, released, waitlisted, comment, retimed, … (the
    titles are in ``workflows.messages``).
    """

    recipients: tuple[Hashable, ...]
    kind: str
    instance: Hashable
    task: str | None
    title_key: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    priority: str = "normal"  # "normal" or "high"


@dataclass(frozen=True)
class Announce:
    """Something happened that tells nobody: its only recipient was the actor, who is
    never told of their own action (an applicant's withdrawal of a request nobody else
    held, their own confirmation that ended it).  Not a message to anyone: the web layer
    posts it to the unit's group chat (its webhook) if the action tells nobody anything
    else — an action that tells someone reaches the chat with those messages.  Fields as
    ``Notify``'s."""

    kind: str
    instance: Hashable
    task: str | None
    title_key: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    priority: str = "normal"


@dataclass(frozen=True)
class ScheduleTimer:
    """Call ``act(..., Action("fire", timer=key))`` for this instance at ``at``."""

    key: str
    at: datetime
    purpose: str  # remind | escalate | timeout | wait
    instance: Hashable
    task: str | None = None


@dataclass(frozen=True)
class CancelTimer:
    key: str
    instance: Hashable


@dataclass(frozen=True)
class Assign:
    """The task's assignees are now exactly ``users`` (replace the inbox rows)."""

    instance: Hashable
    task: str
    step: str
    users: tuple[Hashable, ...]


@dataclass(frozen=True)
class OfferToPool:
    """A task anyone in the pool may claim: show it on their wall, notify nobody."""

    instance: Hashable
    task: str
    step: str
    role: str | None
    unit: Hashable | None
    within: bool
    anyone: bool = False


@dataclass(frozen=True)
class TaskClosed:
    """Remove the task from every inbox and pool."""

    instance: Hashable
    task: str
    step: str
    outcome: str | None


@dataclass(frozen=True)
class Unassigned:
    """Nobody matches the step's rule: an administrator must reassign the task."""

    instance: Hashable
    task: str
    step: str
    rule: str


@dataclass(frozen=True)
class Promoted:
    """Instance ``instance`` moved from a waiting list into a place of ``resource``.

    The web layer runs ``act(..., Action("promote"), actor=SYSTEM)`` on it.
    """

    instance: Hashable
    resource: str


@dataclass(frozen=True)
class Finished:
    """The instance reached a final status."""

    instance: Hashable
    status: str
    end: str | None


EFFECT_TYPES: dict[str, type] = {cls.__name__: cls for cls in (
    Notify, Announce, ScheduleTimer, CancelTimer, Assign, OfferToPool, TaskClosed,
    Unassigned, Promoted, Finished)}


def effect_to_dict(effect: Any) -> dict[str, Any]:
    """JSON-ready data with a "type" key naming the effect class."""
    out = {f.name: thaw(getattr(effect, f.name)) for f in fields(effect)}
    out["type"] = type(effect).__name__
    return out


def effect_from_dict(raw: Mapping[str, Any]) -> Any:
    cls = EFFECT_TYPES[raw["type"]]
    values = {}
    for f in fields(cls):
        if f.name not in raw:
            continue
        value = raw[f.name]
        if f.name == "at" and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif isinstance(value, list):
            value = tuple(value)
        elif isinstance(value, dict):
            value = freeze(value)
        values[f.name] = value
    return cls(**values)
