"""A task's deadline (期限) as its holder needs to see it: when it falls, whether it has
passed, whether the task was escalated (督办), and what happens when time runs out.

The deadline itself is ``Task.due_at``, kept by every step (``workflow._due_dates``): the
task's escalation, time-out or end of waiting, else its reminder; once passed it stays
until a later one replaces it.  Whether a task was escalated is read from its history:
an ``escalate`` line that brought someone in.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask_babel import gettext as _
from sqlalchemy import select

from webapp.extensions import db
from webapp.i18n import local_time
from webapp.models import HistoryEntry, Task, Timer
from webapp.services.progress import step_label
from workflows.spec import ProcessSpec

# A deadline this close is "soon" (即将到期) in the inbox.
SOON = timedelta(hours=24)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)  # SQLite gives naive UTC


@dataclass(frozen=True)
class Flags:
    overdue: bool = False
    soon: bool = False
    escalated: bool = False


def _escalations(tasks: list[Task]) -> dict[int, datetime]:
    """Task id → when it was escalated to someone, for those of ``tasks`` that were (one
    query for a page of them): an escalation that found nobody at the level above is not
    督办."""
    keys = {(t.instance_id, t.key): t.id for t in tasks}
    if not keys:
        return {}
    lines = db.session.execute(select(
        HistoryEntry.instance_id, HistoryEntry.task_key, HistoryEntry.at, HistoryEntry.data)
        .where(HistoryEntry.instance_id.in_({i for i, _k in keys}),
               HistoryEntry.action == "escalate"))
    found: dict[int, datetime] = {}
    for instance_id, task_key, at, data in lines:
        task_id = keys.get((instance_id, task_key))
        if task_id is not None and ((data or {}).get("details") or {}).get("to"):
            found.setdefault(task_id, at)
    return found


def flags(tasks: list[Task], now: datetime | None = None) -> dict[int, Flags]:
    """For each open task of a list (an inbox page): past its deadline, close to it,
    escalated."""
    now = now or utcnow()
    escalated = _escalations([t for t in tasks if t.status == "open"])
    out = {}
    for task in tasks:
        due = _aware(task.due_at) if task.due_at is not None else None
        out[task.id] = Flags(overdue=task.status == "open" and due is not None and due <= now,
                             soon=task.status == "open" and due is not None
                             and now < due <= now + SOON,
                             escalated=task.id in escalated)
    return out


def task_notes(spec: ProcessSpec, task: Task, locale: str,
               now: datetime | None = None) -> list[tuple[str, str]]:
    """What the holder of an open task should know about its time, as (style, words):
    the deadline and what comes after it (督办, or the step ending by itself), or that it
    has passed and the task was escalated."""
    if task.status != "open" or task.kind not in ("approval", "task", "revise", "claim",
                                                   "attendance"):
        return []
    now = now or utcnow()
    rows = db.session.execute(select(Timer.purpose, Timer.fire_at).where(
        Timer.instance_id == task.instance_id, Timer.task_key == task.key,
        Timer.status == "pending")).all()
    step = spec.step(task.step)

    def when(at: datetime) -> str:
        return local_time(at).strftime("%Y-%m-%d %H:%M")

    notes = []
    fired = _escalations([task]).get(task.id)
    if fired:
        notes.append(("danger", _("已超过办理期限，%(at)s 已督办升级。", at=when(fired))))
    elif task.due_at is not None and _aware(task.due_at) <= now:
        notes.append(("danger", _("已超过办理期限（%(at)s），请尽快处理。", at=when(task.due_at))))
    pending = {r.purpose: r.fire_at for r in rows}
    if "escalate" in pending:
        notes.append(("warning" if _aware(pending["escalate"]) <= now + SOON else "info",
                      _("请于 %(at)s 前处理，逾期将督办升级至上级。", at=when(pending["escalate"]))))
    elif "remind" in pending and not fired and "timeout" not in pending:
        notes.append(("info", _("请于 %(at)s 前处理。", at=when(pending["remind"]))))
    if "timeout" in pending and step is not None and step.timeout is not None:
        go = step.timeout.go
        target = step_label(spec, go, locale)
        ends = any(e.id == go for e in spec.ends)
        words = (_("%(at)s 前未处理，本申请将自动结束：%(to)s。", at=when(pending["timeout"]), to=target)
                 if ends else
                 _("%(at)s 前未处理，本环节将自动结束，转至：%(to)s。", at=when(pending["timeout"]),
                   to=target))
        notes.append(("warning" if _aware(pending["timeout"]) <= now + SOON else "info", words))
    return notes
