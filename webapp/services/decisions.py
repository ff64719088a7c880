"""What a person may do with one task, and which form the step asks for.

The task page and the JSON API both ask here, so they always offer the same actions
and check the same fields.
"""
from __future__ import annotations

from typing import Any

from webapp.models import Instance, Task, User
from webapp.services import workflow as wf
from workflows.fields import FormSpec
from workflows.spec import ProcessSpec

DECISIONS = ("approve", "reject", "return", "complete", "object")
NEEDS_REASON = ("reject", "return", "object")
WITH_DATA = ("approve", "complete", "resubmit")  # the decisions that submit the step's form


def task_actions(instance: Instance, task: Task, user: User, available: list | None = None
                 ) -> list[str]:
    """The engine's actions for ``user`` on this task (claim and resubmit included);
    ``available`` is ``wf.available_actions(instance, user)`` when the caller has it."""
    if available is None:  # the others need not be asked about
        available = wf.available_actions(instance, user, task=task.key)
    return [a.action for a in available
            if a.task == task.key or (a.task is None and a.action in ("claim", "resubmit")
                                      and task.status == "open")]


def step_form(spec: ProcessSpec, task: Task) -> FormSpec:
    """The fields the task asks for: the start form again when it came back for revision."""
    if task.kind == "revise":
        return spec.start.form
    step = spec.step(task.step)
    return step.form if step else FormSpec()


def form_context(instance: Instance) -> dict[str, Any]:
    """What a step form's conditions may refer to: the data the applicant gave."""
    return {"start": instance.state.get("data", {})}
