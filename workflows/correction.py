"""Correcting how an ended request ended — one narrow operation, not a reopening.

    state, effects = correct(spec, state, outcome, reason, actor, now, directory)

A request whose end a judgement step decided (a step kind that says it may be judged
again: ``correctable``, today only ``attendance``) may have that judgement made again
when what it was made from was wrong — a trainee marked absent who was there.  Only:

* an ended request, whose end is the target of one of that step's outcomes, reached by
  closing that step's task (the last task closed, at the moment it ended);
* a new outcome of the same step whose target is also an end, and which the step's own
  judgement (the kind's ``rejudge``: the register counted again) agrees with;
* by someone who may hold that step's task now (its rule or its escalation), never the
  applicant; with a reason.

The request stays ended (same ``ended_at``: it ended when it was decided); its status and
end become the new outcome's, the step's recorded result is replaced, one history line
(``correct``) says from which end to which, by whom, when and why, and the applicant is
told (``corrected``).  Nothing else moves: no task is opened, no timer armed, no place
taken or given back (a change of end that would have to give back or take a place is
refused).  The version counts up as for any step.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Hashable

from workflows.actions import assignee_rules
from workflows.directory import Directory
from workflows.errors import Conflict, DefinitionError, InvalidInput, NotAllowed
from workflows.kinds import kind_of
from workflows.kinds.common import comment_of
from workflows.rules import is_eligible
from workflows.runtime import SYSTEM, Action, Run
from workflows.spec import ProcessSpec, StepSpec
from workflows.state import InstanceState, Task

__all__ = ["correct", "correctable", "permit_correction", "Correctable"]


class Correctable:
    """What a correction would change: the task that ended the request, its step, and
    the outcome it ended by."""

    def __init__(self, task: Task, step: StepSpec, outcome: str):
        self.task, self.step, self.outcome = task, step, outcome

    def __repr__(self) -> str:
        return f"Correctable({self.task.id}, {self.step.id}, {self.outcome})"


def correctable(spec: ProcessSpec, state: InstanceState) -> Correctable | None:
    """The judgement that ended ``state``, if it is one that may be made again; else None
    (still running, or ended some other way: withdrawn, rejected, a waiting list's end)."""
    if not state.finished or state.end is None:
        return None
    # The task whose closing ended it: closed at that moment, the last one opened.
    closed = [t for t in state.tasks if t.closed_at is not None and t.closed_at == state.ended_at]
    if not closed:
        return None
    task = max(closed, key=lambda t: int(t.id[1:]) if t.id[1:].isdigit() else 0)
    step = spec.step(task.step)
    if step is None or not getattr(kind_of(step), "correctable", False):
        return None
    outcome = next((o for o in kind_of(step).outcomes if step.target(o) == state.end), None)
    if outcome is None:
        return None
    return Correctable(task, step, outcome)


def _found(spec: ProcessSpec, state: InstanceState) -> Correctable:
    if state.process != spec.key or state.definition_digest != spec.digest:
        raise DefinitionError(en="the instance belongs to another definition version")
    if not state.finished:
        raise Conflict("该申请尚未判定，不能更正；请先判定", "This request has not been decided "
                       "yet: there is nothing to correct", code="not_decided")
    found = correctable(spec, state)
    if found is None:
        raise Conflict("该申请的结果不是判定得出的，不能更正", "This request did not end by a "
                       "decision that can be corrected", code="not_correctable")
    return found


def permit_correction(spec: ProcessSpec, state: InstanceState, actor: Hashable,
                      directory: Directory, now: datetime) -> Correctable:
    """The judgement ``actor`` may correct; NotAllowed or Conflict saying why not."""
    found = _found(spec, state)
    if actor is None or actor == SYSTEM:
        raise NotAllowed("请先登录", "Please sign in first", code="not_signed_in")
    if actor == state.applicant:
        raise NotAllowed("申请人本人不能更正自己的结果", "Nobody may correct the result of their "
                         "own request", code="own_request")
    run = Run(spec, state, directory, now, actor)
    rules = assignee_rules(run, found.task)
    if not any(is_eligible(rule, actor, run.rule_context()) for rule in rules):
        raise NotAllowed("只有可以判定此环节的人员才能更正结果", "Only those who may decide this "
                         "step may correct its result", code="not_allowed")
    return found


def correct(spec: ProcessSpec, state: InstanceState, outcome: str, reason: str | None,
            actor: Hashable, now: datetime, directory: Directory
            ) -> tuple[InstanceState, list[Any]]:
    """Judge again the step that ended ``state`` and move it to ``outcome``'s end.

    ``outcome`` is one of the step's outcomes (for attendance: ``passed``/``failed``);
    the step's kind judges again from what it reads (the register), and a judgement that
    disagrees with ``outcome`` is refused (InvalidInput, code ``disagrees``), as is a
    correction that changes nothing (``unchanged``) or has no ``reason``.
    """
    found = permit_correction(spec, state, actor, directory, now)
    step, kind = found.step, kind_of(found.step)
    text = comment_of(Action("correct", comment=reason), required=True,
                      what_zh="更正原因", what_en="the reason for the correction")
    if outcome not in kind.outcomes:
        raise InvalidInput("请选择更正后的结果", "Choose the corrected result",
                           code="bad_outcome",
                           field_errors={"outcome": [("请选择更正后的结果",
                                                      "Choose the corrected result")]})
    target = spec.end(step.target(outcome) or "")
    if target is None:
        raise InvalidInput("这个结果不是一种办结方式，不能更正为它", "That result does not end "
                           "the request: it cannot be corrected to", code="bad_outcome")
    run = Run(spec, state, directory, now, actor)
    judged, changes, details = kind.rejudge(run, step, found.task)
    if judged != outcome:
        zh, en = kind.disagreement(step, judged, details)
        raise InvalidInput(zh, en, code="disagrees",
                           field_errors={"outcome": [(zh, en)]})
    before = spec.end(state.end)
    if target.id == state.end and not changes:
        raise InvalidInput("结果和记录都没有变化，无需更正", "Neither the result nor the record "
                           "changes: there is nothing to correct", code="unchanged")
    for reservation in state.reservations:
        if run._releases(reservation, state.status) != run._releases(reservation, target.status):
            raise Conflict("这一更正会改变名额的占用，不能更正", "This correction would take or "
                           "give back a place: it cannot be made", code="not_correctable")
    run.merge_data(changes)
    run.status, run.end = target.status, target.id
    run.log("correct", step=step.id, task=found.task.id, comment=text,
            changes={name: [state.data.get(name), value] for name, value in changes.items()},
            before=state.end, before_status=state.status, end=target.id,
            status=target.status, **details)
    run.notify([state.applicant], "corrected", None, status=target.status, end=target.id,
               end_name=target.name, end_name_en=target.name_en or target.name,
               before_name=before.name if before else state.end,
               before_name_en=(before.name_en or before.name) if before else state.end,
               comment=text, priority="high")
    return run.freeze(), run.effects
