"""Plain words for where an instance stands and what comes next, in the reader's language."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.i18n import local_time
from webapp.models import Instance, Reservation, Task, TaskAssignee, User
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


def holders_by_task(task_ids: Iterable[int]) -> dict[int, list[str]]:
    """The names of the people each task is with, by task id, in one query (a task
    nobody holds is not in it)."""
    ids = sorted(set(task_ids))
    found: dict[int, list[str]] = {}
    if not ids:
        return found
    for task_id, name in db.session.execute(
            select(TaskAssignee.task_id, User.display_name)
            .join(User, TaskAssignee.user_id == User.id)
            .where(TaskAssignee.task_id.in_(ids))
            .order_by(TaskAssignee.task_id, User.display_name)):
        found.setdefault(task_id, []).append(name)
    return found


def waiting_for(instance: Instance, locale: str) -> tuple[list[str], list[str], list]:
    """Who the open tasks wait for: people by name, and the roles of pools to claim from;
    and when the steps that end by themselves (a notice, a timer) end."""
    tasks = db.session.scalars(select(Task).where(Task.instance_id == instance.id,
                                                  Task.status == "open")).all()
    people, pools = [], []
    # A waiting list's task ends when the waiting does (the duty day or course begins).
    ending = [(task.kind, task.due_at) for task in tasks
              if task.kind in ("publicity", "timer", "reserve") and task.due_at is not None]
    holders = holders_by_task(task.id for task in tasks)
    for task in tasks:
        names = holders.get(task.id)
        if names:
            people.extend(names)
        elif task.pool_role:
            pools.append(term(ROLES, task.pool_role, "en" if locale.startswith("en") else "zh"))
    return list(dict.fromkeys(people)), list(dict.fromkeys(pools)), ending


def waiting_positions(instances: Iterable[Instance]) -> dict[int, int]:
    """Each waitlisted instance's place on its waiting list, by instance id: 1 + the
    sign-ups still waiting for the same resource that joined before it (``seq``, the
    order the capacity port promotes in).  One query for them all, none when none of
    them waits; an instance the port has just promoted (its place granted, the step
    not yet moved on) has none."""
    wanted = sorted({(held["resource"], row.id) for row in instances
                     if row.status == "waitlisted"
                     for held in (row.state or {}).get("reservations", ())
                     if held.get("status") == "waitlisted"})
    if not wanted:
        return {}
    mine, ahead = aliased(Reservation), aliased(Reservation)
    rows = db.session.execute(
        select(mine.instance_id, func.count(ahead.id))
        .outerjoin(ahead, and_(ahead.resource_key == mine.resource_key,
                               ahead.status == "waitlisted", ahead.seq < mine.seq))
        .where(tuple_(mine.resource_key, mine.instance_id).in_(wanted),
               mine.status == "waitlisted")
        .group_by(mine.id, mine.instance_id))
    positions: dict[int, int] = {}
    for instance_id, before in rows:
        positions[instance_id] = min(before + 1, positions.get(instance_id, before + 1))
    return positions


def next_text(spec: ProcessSpec, instance: Instance, locale: str,
              positions: Mapping[int, int] | None = None) -> str:
    """E.g. "下一步：驿站核实（等待 孙伟 处理）", "下一步：候补（候补第 2 位，候补至 …）" or
    "流程已结束：已办结".  ``positions``: the waiting places of a list's instances, read
    together (``waiting_positions``); else this one's is read if it waits."""
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
    position = (waiting_positions([instance]) if positions is None
                else positions).get(instance.id)
    # A waiting list's own end reads "on the waiting list until"; its place goes first.
    queued = bool(until) and until[0][0] == "reserve"
    if en:
        who = [f"waiting for {', '.join(people)}"] if people else []
        who += [f"open for a {', '.join(pools).lower()} to claim"] if pools else []
        place = f"No. {position} on the waiting list" if position else None
        if queued:
            who.append(f"{place or 'on the waiting list'} until {until[0][1]}")
        else:
            who += ([place] if place else []) + ([f"until {until[0][1]}"] if until else [])
        return f"Next: {', '.join(steps)}" + (f" ({'; '.join(who)})." if who else ".")
    who = [f"等待 {'、'.join(people)} 处理"] if people else []
    who += [f"等待{'、'.join(pools)}认领"] if pools else []
    place = f"候补第 {position} 位" if position else None
    if queued:
        who.append((f"{place}，" if place else "") + f"候补至 {until[0][1]}")
    else:
        who += ([place] if place else []) + ([f"至 {until[0][1]}"] if until else [])
    return f"下一步：{'、'.join(steps)}" + (f"（{'；'.join(who)}）。" if who else "。")
