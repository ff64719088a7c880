"""The parsed, frozen form of a process definition (what the loader returns).

A spec never changes once loaded; running instances refer to it by key and digest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Mapping

from workflows.durations import Duration
from workflows.fields import FieldSpec, FormSpec
from workflows.rules import PersonRule

END_STATUSES = ("completed", "approved", "rejected", "withdrawn", "cancelled", "expired")
RUNNING_STATUSES = ("running", "returned", "waitlisted")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Template:
    """Text with ``{dotted.name}`` placeholders, e.g. ``course:{form.course}``."""

    text: str

    def names(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in _PLACEHOLDER.findall(self.text))

    def render(self, lookup: Any) -> str | None:
        """The text with each placeholder replaced; None if any value is missing."""
        missing = False

        def substitute(match: re.Match) -> str:
            nonlocal missing
            value = lookup(match.group(1).strip())
            if value is None or value == "":
                missing = True
                return ""
            return str(value)

        rendered = _PLACEHOLDER.sub(substitute, self.text)
        return None if missing else rendered


# Field types a title never shows (a file; personal data even when not marked private):
# the loader refuses them in a ``title``, the web layer leaves them out of a fallback one.
UNTITLED_TYPES = frozenset({"file", "phone", "id_card"})


def title_field(name: str) -> str:
    """The field a title placeholder names: ``{category}`` or ``{form.category}``."""
    return name[len("form."):] if name.startswith("form.") else name


@dataclass(frozen=True)
class Sla:
    """Reminder, escalation and their targets for the tasks of a step."""

    remind_after: Duration | None = None
    escalate_after: Duration | None = None
    escalate_to: PersonRule | None = None


@dataclass(frozen=True)
class Timeout:
    """When a step has waited ``after``, or when the moment ``until`` (a date from the
    form or a record, or fixed) comes — whichever is first — it is left towards ``go``
    (a step or an end).  At least one of the two is set."""

    after: Duration | None
    go: str
    line: int | None = None
    until: Any = None  # an Expr giving a date or datetime
    fixed: Any = None  # a datetime written in the definition


@dataclass(frozen=True)
class StepSpec:
    id: str
    kind: str
    name: str
    name_en: str | None = None
    description: str | None = None
    description_en: str | None = None
    form: FormSpec = FormSpec()
    next: Mapping[str, str] = field(default_factory=dict)  # outcome -> step or end id
    sla: Sla | None = None
    timeout: Timeout | None = None
    notify: tuple[PersonRule, ...] = ()
    withdraw: bool = True
    config: Any = None  # the kind's own settings (see workflows.kinds)
    line: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "next", MappingProxyType(dict(self.next)))

    def label(self, locale: str = "zh") -> str:
        return self.name_en if str(locale).startswith("en") and self.name_en else self.name

    def describe(self, locale: str = "zh") -> str | None:
        """What the step's people are told about it (rules to follow), in ``locale``."""
        english = str(locale).startswith("en") and self.description_en
        return self.description_en if english else self.description

    def target(self, outcome: str) -> str | None:
        return self.next.get(outcome)


@dataclass(frozen=True)
class EndSpec:
    id: str
    status: str
    name: str
    name_en: str | None = None
    line: int | None = None

    def label(self, locale: str = "zh") -> str:
        return self.name_en if str(locale).startswith("en") and self.name_en else self.name


@dataclass(frozen=True)
class StartCheck:
    """A condition the start data must meet, which (unlike a form rule) may read records:
    e.g. that the applicant is eligible for the course they chose.  The messages are
    templates, so they can say what the record asks (``{record.course.age_range}``)."""

    check: Any  # workflows.expr.Expr
    message: Template
    message_en: Template | None = None
    field: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class StartSpec:
    who: tuple[PersonRule, ...]
    form: FormSpec = FormSpec()
    first: str = ""
    one_active_per_applicant: bool = False
    unique: Template | None = None
    withdraw: bool = True
    checks: tuple[StartCheck, ...] = ()
    # A record field (e.g. a duty slot) whose time window may not overlap the window of
    # the applicant's other open instances of the process.
    no_overlap: str | None = None
    # Ended statuses that still count against ``unique`` (e.g. a retreat already taken
    # this year): by default only running instances do.
    unique_counts: tuple[str, ...] = ()
    # Who may start it for someone else (代为申请 / 代为推荐): each rule is read relative to
    # that person, the applicant (``{role: unit_admin, of: applicant}``: an administrator
    # of their unit or above it).  The request then runs as if the applicant had started it.
    on_behalf: tuple[PersonRule, ...] = ()


@dataclass(frozen=True)
class ProcessSpec:
    key: str
    name: str
    start: StartSpec
    steps: tuple[StepSpec, ...]
    ends: tuple[EndSpec, ...]
    name_en: str | None = None
    description: str | None = None
    description_en: str | None = None
    file: str = "<definition>"
    digest: str = ""
    # What lists call an instance, e.g. "{category} · {station}": start-form fields,
    # each shown as its display text; None: the web layer's fallback.
    title: Template | None = None

    @cached_property
    def title_fields(self) -> tuple[str, ...]:
        """The start-form fields the title is made from (``{name}`` or ``{form.name}``)."""
        if self.title is None:
            return ()
        return tuple(dict.fromkeys(title_field(name) for name in self.title.names()))

    def step(self, step_id: str) -> StepSpec | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def end(self, end_id: str) -> EndSpec | None:
        return next((e for e in self.ends if e.id == end_id), None)

    def label(self, locale: str = "zh") -> str:
        return self.name_en if str(locale).startswith("en") and self.name_en else self.name

    @cached_property
    def fields(self) -> Mapping[str, FieldSpec]:
        """Every field of the start form and of the step forms, by name."""
        out = {f.name: f for f in self.start.form.fields}
        for step in self.steps:
            for spec in step.form.fields:
                out.setdefault(spec.name, spec)
        return MappingProxyType(out)

    def person_rules(self) -> list[PersonRule]:
        """Every person rule in the definition (starters, approvers, pools, …)."""
        rules = list(self.start.who) + list(self.start.on_behalf)
        for step in self.steps:
            rules += [getattr(step.config, name, None)
                      for name in ("approvers", "assignee", "pool", "objectors")]
            rules += list(step.notify) + [step.sla.escalate_to if step.sla else None]
        return [rule for rule in rules if rule is not None]

    @cached_property
    def all_forms(self) -> FormSpec:
        return FormSpec(tuple(self.fields.values()))

# Labels of instance statuses, for lists, diagrams and notifications.
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "running": ("办理中", "In progress"),
    "returned": ("已退回修改", "Returned for revision"),
    "waitlisted": ("候补中", "On the waiting list"),
    "completed": ("已完成", "Completed"),
    "approved": ("已通过", "Approved"),
    "rejected": ("未通过", "Rejected"),
    "withdrawn": ("已撤回", "Withdrawn"),
    "cancelled": ("已取消", "Cancelled"),
    "expired": ("已过期", "Expired"),
}


def status_label(status: str, locale: str = "zh") -> str:
    zh, en = STATUS_LABELS.get(status, (status, status))
    return en if str(locale).startswith("en") else zh
