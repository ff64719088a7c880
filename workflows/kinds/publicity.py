"""``publicity`` (公示): a period during which people may object, with their real name.

When the period ends the step goes ``passed`` if nobody objected, else ``objected``.
The applicant is never among the objectors: the notice is about their own request.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workflows.durations import Duration
from workflows.errors import AlreadyDecided, NotAllowed
from workflows.kinds.base import StepKind, StepReader
from workflows.kinds.common import comment_of
from workflows.rules import PersonRule, is_eligible
from workflows.state import Pool

if TYPE_CHECKING:
    from workflows.runtime import Action, Run
    from workflows.spec import StepSpec
    from workflows.state import Task


@dataclass(frozen=True)
class PublicityConfig:
    duration: Duration | None
    objectors: PersonRule | None


class PublicityKind(StepKind):
    name = "publicity"
    label, label_en = "公示", "Publicity"
    keys = frozenset({"duration", "objectors"})
    outcomes = ("passed", "objected")
    required_outcomes = ("passed", "objected")
    outcome_labels = {"passed": ("无异议", "No objection"), "objected": ("有异议", "Objection")}
    task_actions = frozenset({"object"})

    def parse(self, reader: StepReader) -> PublicityConfig:
        duration = reader.duration("duration") if reader.require("duration") is not None else None
        objectors = PersonRule(special="anyone")
        if "objectors" in reader.raw:
            objectors = reader.rule("objectors", "start")
        return PublicityConfig(duration, objectors)

    def enter(self, run: Run, step: StepSpec) -> None:
        rule: PersonRule = step.config.objectors
        task = run.open_task(step, "publicity", pool=Pool(
            rule.role, None, True, anyone=rule.special == "anyone"))
        run.schedule(task, "wait", run.later(step.config.duration))
        # The applicant hears of it (a notice about them, open to objections), unless the
        # definition already tells them each step they enter.
        told = {p for rule in step.notify for p in run.people(rule)}
        if run.applicant not in told:
            run.notify([run.applicant], "publicity_started", task)

    def permit(self, run: Run, step: StepSpec, task: Task, action: Action) -> None:
        if action.kind != "object":
            super().permit(run, step, task, action)
        if run.actor == run.applicant:
            # The notice is about the applicant's own request: others object, not them.
            raise NotAllowed("不能对自己的事项提出异议", "You cannot object to your own request")
        if not is_eligible(step.config.objectors, run.actor, run.rule_context()):
            raise NotAllowed("您不能对此公示提出异议", "You may not object to this notice")
        if any(d.by == run.actor and d.action == "object" for d in task.decisions):
            raise AlreadyDecided("您已提出过异议", "You have already objected",
                                 code="already_objected")

    def apply(self, run: Run, step: StepSpec, task: Task, action: Action) -> None:
        reason = comment_of(action, required=True, what_zh="异议理由",
                            what_en="the reason for your objection")
        task = run.decide(task, "object", reason)
        run.log("object", step=step.id, task=task.id, comment=reason)
        watchers = [p for rule in step.notify for p in run.people(rule)]
        run.notify(watchers, "objection", task, priority="high")

    def fire(self, run: Run, step: StepSpec, task: Task) -> None:
        objected = any(d.action == "object" for d in task.decisions)
        outcome = "objected" if objected else "passed"
        run.close_task(task, outcome)
        run.route(step, outcome)


def objectors_of(run: Run, step: StepSpec) -> list:
    """Who objected in the public notice that sent the request to ``step`` (the latest
    notice of a publicity step whose ``objected`` leads there), in order; none when
    ``step`` does not review objections."""
    notices = {s.id for s in run.spec.steps
               if s.kind == "publicity" and s.next.get("objected") == step.id}
    if not notices:
        return []
    closed = [t for t in run.tasks.values() if t.step in notices and t.kind == "publicity"
              and t.outcome == "objected"]
    if not closed:
        return []
    latest = max(closed, key=lambda t: (t.closed_at, t.opened_at))
    return list(dict.fromkeys(d.by for d in latest.decisions if d.action == "object"))
