"""What a person may do with one task, and which form the step asks for.

The task page and the JSON API both ask here, so they always offer the same actions
and check the same fields.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _

from webapp.extensions import db
from webapp.i18n import local_time
from webapp.labels import action_label, status_label
from webapp.models import Instance, Task, User
from webapp.services import workflow as wf
from workflows.fields import FormSpec
from workflows.kinds import form_actions as step_form_actions
from workflows.spec import ProcessSpec

DECISIONS = ("approve", "reject", "return", "complete", "object")
NEEDS_REASON = ("reject", "return", "object")


def task_actions(instance: Instance, task: Task, user: User, available: list | None = None
                 ) -> list[str]:
    """The engine's actions for ``user`` on this task (claim and resubmit included);
    ``available`` is ``wf.available_actions(instance, user)`` when the caller has it."""
    if available is None:  # the others need not be asked about
        available = wf.available_actions(instance, user, task=task.key)
    return [a.action for a in available
            if a.task == task.key or (a.task is None and a.action in ("claim", "resubmit")
                                      and task.status == "open")]


def reason_field(spec: ProcessSpec, task: Task):
    """The field of an approval's form whose text is a rejection's reason when no comment
    is given (``reason_field``), or None."""
    if task.kind != "approval":
        return None
    step = spec.step(task.step)
    name = getattr(getattr(step, "config", None), "reason_field", None)
    return step.form.field(name) if name else None


def needs_comment(spec: ProcessSpec, task: Task, action: str) -> bool:
    """Whether ``action`` needs a comment of its own: a reject, return or objection does,
    unless the step's form gives it its reason (``reason_field``, sent with it)."""
    if action not in NEEDS_REASON:
        return False
    return reason_field(spec, task) is None or action not in form_actions(spec, task)


DELEGATES_LISTED = 100  # people offered to hand a task to, at most


def delegate_candidates(instance: Instance, task: Task, user: User) -> list[User]:
    """Who ``user`` could hand the task to: the active people its step's rule (or that
    rule's escalation) names, other than the applicant and those holding it — the
    engine's own list, which ``delegate`` checks again — by name, at most
    ``DELEGATES_LISTED``."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from webapp.services.unassigned import eligible_ids

    ids = [i for i in eligible_ids(task)
           if isinstance(i, int) and i != user.id][:10 * DELEGATES_LISTED]
    if not ids:
        return []
    people = db.session.scalars(select(User).options(selectinload(User.unit)).where(
        User.id.in_(ids), User.active.is_(True))).all()
    return sorted(people, key=lambda p: (p.display_name, p.username))[:DELEGATES_LISTED]


def step_form(spec: ProcessSpec, task: Task) -> FormSpec:
    """The fields the task asks for: the start form again when it came back for revision."""
    if task.kind == "revise":
        return spec.start.form
    step = spec.step(task.step)
    return step.form if step else FormSpec()


def form_actions(spec: ProcessSpec, task: Task) -> tuple[str, ...]:
    """The decisions that send the task's form: ``resubmit`` for a returned request, a
    task's ``complete``, an approval's ``form_on`` (approving, unless it says more)."""
    if task.kind == "revise":
        return ("resubmit",)
    step = spec.step(task.step)
    return step_form_actions(step) if step else ()


def action_form(spec: ProcessSpec, task: Task, action: str) -> FormSpec:
    """The task's form as ``action`` sends it: a field required for some actions only
    (``required: [approve]``) is required for this one or not at all."""
    return step_form(spec, task).for_action(action)


def required_on(spec: ProcessSpec, task: Task) -> dict[str, list[str]]:
    """Each field of the task's form → the actions that need it filled (none: optional)."""
    actions = form_actions(spec, task)
    return {f.name: [a for a in actions if f.required_for(a)]
            for f in step_form(spec, task).fields}


def form_context(instance: Instance) -> dict[str, Any]:
    """What a step form's conditions may refer to: the data the applicant gave."""
    return {"start": instance.state.get("data", {})}


# ------------------------------------------------------------------ refusals

def request_ended(instance: Instance) -> str:
    """Why a step on an ended request was not done: how and when it ended."""
    at = local_time(instance.closed_at)
    return _("该申请已结束（%(status)s，%(time)s），您的操作未执行。",
             status=status_label(instance.status), time=at.strftime("%m-%d %H:%M"))


def already_decided(instance: Instance, task: Task) -> str:
    """Who decided the task, when and how — or a plain refusal if it is still open."""
    entry = next((t for t in instance.state.get("tasks", []) if t.get("id") == task.key), None)
    decisions = [d for d in (entry or {}).get("decisions", []) if d.get("action") != "comment"]
    if task.status == "closed" and not decisions and instance.closed_at is not None:
        # Closed by the request's end (withdrawn, cancelled, expired), not by a decision.
        return request_ended(instance)
    if task.status != "closed" or not decisions:
        return _("此任务已由他人处理，或您不能进行该操作。")
    last = decisions[-1]
    who = db.session.get(User, last["by"]) if isinstance(last.get("by"), int) else None
    at = local_time(datetime.fromisoformat(last["at"]))
    return _("这项任务已由 %(name)s 于 %(time)s %(action)s，您的操作未执行。",
             name=who.display_name if who else _("系统"), time=at.strftime("%m-%d %H:%M"),
             action=action_label(last["action"]))
