"""Plain words for where an instance stands and what comes next, in the reader's language."""
from __future__ import annotations

from sqlalchemy import select

from webapp.extensions import db
from webapp.i18n import local_time
from webapp.models import Instance, Task, TaskAssignee, User
from workflows.org import ROLES, term
from workflows.spec import ProcessSpec, status_label


def step_label(spec: ProcessSpec, step_id: str, locale: str) -> str:
    for step in spec.steps:
        if step.id == step_id:
            return step.label(locale)
    for end in spec.ends:
        if end.id == step_id:
            return end.label(locale)
    return step_id


def holder_names(task: Task) -> list[str]:
    """The names of the people a task is with."""
    return list(db.session.scalars(select(User.display_name).join(
        TaskAssignee, TaskAssignee.user_id == User.id).where(TaskAssignee.task_id == task.id)
        .order_by(User.display_name)))


def waiting_for(instance: Instance, locale: str) -> tuple[list[str], list[str], list]:
    """Who the open tasks wait for: people by name, and the roles of pools to claim from;
    and when the steps that end by themselves (a notice, a timer) end."""
    tasks = db.session.scalars(select(Task).where(Task.instance_id == instance.id,
                                                  Task.status == "open")).all()
    people, pools = [], []
    # A waiting list's task ends when the waiting does (the duty day or course begins).
    ending = [(task.kind, task.due_at) for task in tasks
              if task.kind in ("publicity", "timer", "reserve") and task.due_at is not None]
    for task in tasks:
        names = holder_names(task)
        if names:
            people.extend(names)
        elif task.pool_role:
            pools.append(term(ROLES, task.pool_role, "en" if locale.startswith("en") else "zh"))
    return list(dict.fromkeys(people)), list(dict.fromkeys(pools)), ending


def next_text(spec: ProcessSpec, instance: Instance, locale: str) -> str:
    """E.g. "下一步：驿站核实（等待 孙伟 处理）" or "流程已结束：已办结"."""
    en = locale.startswith("en")
    if instance.closed_at is not None:
        end = instance.state.get("end")
        label = step_label(spec, end, locale) if end else status_label(instance.status, locale)
        return f"This request has ended: {label}." if en else f"流程已结束：{label}。"
    if instance.status == "returned":  # back with its applicant, who corrects it
        steps = ["Correct and resubmit" if en else "修改后重新提交"]
    else:
        steps = [step_label(spec, s, locale) for s in instance.steps.split(",") if s]
    people, pools, ending = waiting_for(instance, locale)
    until = [(kind, local_time(at).strftime("%Y-%m-%d %H:%M")) for kind, at in ending]
    if en:
        who = [f"waiting for {', '.join(people)}"] if people else []
        who += [f"open for a {', '.join(pools).lower()} to claim"] if pools else []
        who += [("on the waiting list until " if until[0][0] == "reserve" else "until ")
                + until[0][1]] if until else []
        return f"Next: {', '.join(steps)}" + (f" ({'; '.join(who)})." if who else ".")
    who = [f"等待 {'、'.join(people)} 处理"] if people else []
    who += [f"等待{'、'.join(pools)}认领"] if pools else []
    who += [("候补至 " if until[0][0] == "reserve" else "至 ") + until[0][1]] if until else []
    return f"下一步：{'、'.join(steps)}" + (f"（{'；'.join(who)}）。" if who else "。")
