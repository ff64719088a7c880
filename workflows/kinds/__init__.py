"""The registry of step kinds, keyed by the short name used in definitions."""
from __future__ import annotations

from typing import TYPE_CHECKING

from workflows.kinds.approval import ApprovalKind
from workflows.kinds.attendance import AttendanceKind
from workflows.kinds.base import StepKind, StepReader
from workflows.kinds.claim import ClaimKind
from workflows.kinds.decision import DecisionKind
from workflows.kinds.publicity import PublicityKind
from workflows.kinds.reserve import ReserveKind
from workflows.kinds.task import TaskKind
from workflows.kinds.timer import TimerKind

if TYPE_CHECKING:
    from workflows.spec import StepSpec

KINDS: dict[str, StepKind] = {}
ALIASES: dict[str, str] = {"form": "task"}


def register(kind: StepKind) -> StepKind:
    """Make ``kind`` usable as ``kind: <kind.name>`` in definitions."""
    KINDS[kind.name] = kind
    return kind


for _kind in (TaskKind(), ApprovalKind(), DecisionKind(), ClaimKind(), ReserveKind(),
              TimerKind(), PublicityKind(), AttendanceKind()):
    register(_kind)


def lookup(name: str) -> StepKind | None:
    return KINDS.get(ALIASES.get(name, name))


def kind_of(step: StepSpec) -> StepKind:
    return KINDS[step.kind]


def form_actions(step: StepSpec) -> tuple[str, ...]:
    """The actions that send ``step``'s form (an approval's ``form_on``, a task's
    ``complete``): the form's data goes with them and with no other."""
    return kind_of(step).form_actions(step)


__all__ = ["KINDS", "ALIASES", "StepKind", "StepReader", "register", "lookup", "kind_of",
           "form_actions"]
