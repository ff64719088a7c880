"""``task`` (alias ``form``): a named person fills in the step's form and goes on."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workflows.kinds.base import StepKind, StepReader
from workflows.kinds.common import checked_form, require_assignee
from workflows.rules import PersonRule

if TYPE_CHECKING:
    from workflows.runtime import Action, Run
    from workflows.spec import StepSpec
    from workflows.state import Task


@dataclass(frozen=True)
class TaskConfig:
    assignee: PersonRule | None


class TaskKind(StepKind):
    name = "task"
    label, label_en = "办理", "Task"
    keys = frozenset({"assignee"})
    task_actions = frozenset({"complete"})

    def parse(self, reader: StepReader) -> TaskConfig:
        rule = None
        if reader.require("assignee") is not None:
            rule = reader.rule("assignee", "assignee")
            if rule is not None and rule.special == "anyone":
                reader.bad("assignee", "a task needs named people; use a claim step to offer "
                           "work to a pool",
                           "办理环节要写明由谁办理；想让一群人自行认领，请用认领（claim）环节")
                rule = None
        return TaskConfig(rule)

    def enter(self, run: Run, step: StepSpec) -> None:
        rule = step.config.assignee
        run.open_task(step, "task", assignees=run.handlers(step, rule),
                      rule=rule.describe("en"))

    def permit(self, run: Run, step: StepSpec, task: Task, action: Action) -> None:
        if action.kind != "complete":
            super().permit(run, step, task, action)
        require_assignee(run, task)

    def apply(self, run: Run, step: StepSpec, task: Task, action: Action) -> None:
        cleaned = checked_form(run, step.form, action.data)
        changes = run.merge_data(cleaned)
        task = run.decide(task, "complete", (action.comment or "").strip() or None)
        run.log("complete", step=step.id, task=task.id, comment=(action.comment or None),
                changes=changes)
        run.close_task(task, "done")
        run.route(step, "done")
