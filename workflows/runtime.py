"""The working copy of an instance while one engine call runs.

``Run`` holds mutable copies of the state's parts and collects effects; the public
functions in ``workflows.engine`` create one, apply an action, and freeze the result
into a new ``InstanceState``.  Step kinds and action handlers use its helpers to open
and close tasks, route along transitions and record history.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, Hashable, Iterable, Mapping

from workflows import values
from workflows.directory import Directory
from workflows.durations import Duration, WorkCalendar, add_duration
from workflows.effects import (Announce, Assign, CancelTimer, Finished, Notify, OfferToPool,
                               Promoted, ScheduleTimer, TaskClosed, Unassigned)
from workflows.errors import DefinitionError
from workflows.expr import Expr, lookup
from workflows.rules import PersonRule, RuleContext, record_value, resolve_people
from workflows.spec import ProcessSpec, StepSpec
from workflows.state import (ClaimGroup, Decision, HistoryEntry, InstanceState, Pool,
                             Reservation, Task, TimerRef, freeze)

SYSTEM = "system"  # the actor of timer firings and promotions; never a real user id
STEP_ENTERED = "step_entered"  # a step's ``notify`` people told it was entered
MAX_HOPS = 64      # automatic steps (decisions, past timers) in one call; more is a loop


@dataclass(frozen=True)
class Action:
    """What someone asks the engine to do with an instance.

    ``kind``: approve, reject, return, resubmit, complete, withdraw, cancel, delegate,
    reassign, claim, unclaim, comment, object, fire (timers), promote (waiting lists),
    retime (a date a timer step waits for changed), call_off (a place at a station is
    called off by those who run it).
    """

    kind: str
    task: str | None = None
    comment: str | None = None
    data: Mapping[str, Any] | None = None
    to: str | None = None          # return: "applicant" or an earlier step id
    user: Hashable | None = None   # delegate / reassign: the new assignee
    timer: str | None = None       # fire: the timer key
    expected_version: int | None = None


def escalation_rule(step: StepSpec, rule: PersonRule | None) -> PersonRule | None:
    """The next level for a step whose people ``rule`` names: the SLA's ``escalate_to``,
    else the same role one level up (None for rules that name no role)."""
    if rule is None or rule.special is not None:
        return None
    return (step.sla.escalate_to if step.sla else None) or rule.one_level_up()


class Run:
    """Mutable working state for one ``start``/``act`` call."""

    def __init__(self, spec: ProcessSpec, state: InstanceState, directory: Directory,
                 now: datetime, actor: Hashable):
        self.spec, self.directory, self.now, self.actor = spec, directory, now, actor
        self.instance = state.instance_id
        self.base = state
        self.status = state.status
        self.current = list(state.current)
        self.tasks: dict[str, Task] = {t.id: t for t in state.tasks}
        self.data: dict[str, Any] = dict(state.data)
        self.claim = state.claim
        self.reservations = list(state.reservations)
        self.timers = list(state.timers)
        self.history = list(state.history)
        self.end, self.ended_at = state.end, state.ended_at
        self.task_counter = state.task_counter
        self.effects: list[Any] = []
        self.hops = 0
        self._calendar: WorkCalendar | None = None
        # While a return sends the request back to an earlier step: the reason, which
        # the people given that step's task again are told with it.
        self.return_note: str | None = None

    # ------------------------------------------------------------------ reading
    @property
    def applicant(self) -> Hashable:
        return self.base.applicant

    @property
    def finished(self) -> bool:
        return self.ended_at is not None

    def rule_context(self) -> RuleContext:
        return RuleContext(self.directory, self.base.applicant, self.base.applicant_unit,
                           self.data, self.spec.fields,
                           self.claim.claimers if self.claim else ())

    def people(self, rule: PersonRule) -> tuple[Hashable, ...]:
        return resolve_people(rule, self.rule_context())

    def handlers(self, step: StepSpec, rule: PersonRule) -> tuple[Hashable, ...]:
        """Who handles ``step`` under ``rule`` — never the applicant, by a role they hold.

        Nobody decides their own request.  When the applicant is among the people a role
        rule names, they step aside (回避): the others handle it; if nobody else is left,
        the step's escalation target does (``sla.escalate_to``, else the same role one
        level up).  Either way a history line says so; with nobody at all the caller's
        task is unassigned and an administrator reassigns it.
        """
        people = self.people(rule)
        if rule.special is not None:
            return people
        aside = self.stepping_aside()
        if not any(p in aside for p in people):
            return people
        # Who steps aside: the applicant, or the one who started it for them (their
        # nomination is theirs to stand by, not to approve).
        starter = not any(p == self.applicant for p in people)
        others = tuple(p for p in people if p not in aside)
        if others:
            self.log("recuse_starter" if starter else "recuse", step=step.id, to=list(others))
            return others
        up = escalation_rule(step, rule)
        others = tuple(p for p in self.people(up) if p not in aside) if up else ()
        self.log("recuse_starter_escalate" if starter else "recuse_escalate", step=step.id,
                 to=list(others) or None)
        return others

    def stepping_aside(self) -> tuple[Hashable, ...]:
        """Who may not decide this request: its applicant, and whoever started it for them
        (``start.on_behalf``: the submit line names the applicant it was started for)."""
        starter = started_for_by(self.history)
        return (self.applicant,) if starter is None else (self.applicant, starter)

    def expression_context(self, expr: Expr | None = None) -> dict[str, Any]:
        """Names a condition can read: form, applicant, now and the records it uses."""
        context: dict[str, Any] = {
            "form": values.typed(self.spec.all_forms, self.data),
            "applicant": {"id": self.base.applicant, "unit": self.base.applicant_unit},
            "now": self.now,
        }
        names = expr.names() if expr is not None else frozenset()
        records: dict[str, dict[str, Any]] = {}
        for name in names:
            parts = name.split(".")
            if parts[0] == "record" and len(parts) >= 3:
                records.setdefault(parts[1], {})[parts[2]] = \
                    record_value(self.rule_context(), parts[1], parts[2])
        context["record"] = records
        return context

    def holds(self, expr: Expr) -> bool:
        return expr.holds(self.expression_context(expr))

    def value(self, expr: Expr) -> Any:
        return expr.evaluate(self.expression_context(expr))

    def lookup_name(self, dotted: str) -> Any:
        parts = dotted.split(".")
        if parts[0] == "record" and len(parts) >= 3:
            return record_value(self.rule_context(), parts[1], parts[2])
        return lookup(self.expression_context(), dotted)

    def calendar(self) -> WorkCalendar:
        if self._calendar is None:
            self._calendar = self.directory.calendar()
        return self._calendar

    def later(self, duration: Duration) -> datetime:
        return add_duration(self.now, duration, self.calendar())

    def step(self, step_id: str) -> StepSpec:
        step = self.spec.step(step_id)
        if step is None:
            raise DefinitionError(en=f"the definition has no step '{step_id}'")
        return step

    def open_tasks(self, step_id: str | None = None) -> list[Task]:
        return [t for t in self.tasks.values()
                if t.open and (step_id is None or t.step == step_id)]

    # ------------------------------------------------------------------ history
    def log(self, action: str, *, step: str | None = None, task: str | None = None,
            comment: str | None = None, changes: Mapping[str, Any] | None = None,
            **details: Any) -> None:
        actor = self.actor if self.actor is not None else SYSTEM
        self.history.append(HistoryEntry(
            self.now, actor, action, step, task, comment,
            freeze(changes or {}), freeze({k: v for k, v in details.items() if v is not None})))

    def merge_data(self, new: Mapping[str, Any]) -> dict[str, list[Any]]:
        """Store form values; returns {field: [old, new]} for the ones that changed."""
        changes = {}
        for name, value in new.items():
            old = self.data.get(name)
            if old != value:
                changes[name] = [old, value]
            self.data[name] = value
        return changes

    # ------------------------------------------------------------------ tasks
    def open_task(self, step: StepSpec, kind: str, *, assignees: Iterable[Hashable] = (),
                  pool: Pool | None = None, main: bool = True, rule: str = "") -> Task:
        """Create a task; tell its people; start its SLA and timeout timers if ``main``."""
        self.task_counter += 1
        task = Task(f"t{self.task_counter}", step.id, kind, self.now,
                    assignees=tuple(dict.fromkeys(assignees)), pool=pool)
        self.tasks[task.id] = task
        if pool is not None:
            self.effects.append(OfferToPool(self.instance, task.id, step.id, pool.role,
                                            pool.unit, pool.within, pool.anyone))
        elif task.assignees:
            self.effects.append(Assign(self.instance, task.id, step.id, task.assignees))
            if self.return_note is not None:
                self.notify(task.assignees, "sent_back", task, comment=self.return_note,
                            priority="high")
            elif kind != "revise":  # the applicant's is told by "returned", with the reason
                self.notify(task.assignees, "task_assigned", task)
        elif kind in ("approval", "task", "revise"):
            self.effects.append(Unassigned(self.instance, task.id, step.id, rule))
            self.log("unassigned", step=step.id, task=task.id, rule=rule)
        if main:
            self._start_timers(step, task)
        return task

    def _start_timers(self, step: StepSpec, task: Task) -> None:
        sla = step.sla
        if sla is not None and sla.remind_after is not None:
            self.schedule(task, "remind", self.later(sla.remind_after))
        if sla is not None and sla.escalate_after is not None:
            self.schedule(task, "escalate", self.later(sla.escalate_after))
        if step.timeout is not None:
            at = self.timeout_at(step, task)
            if at is not None:
                self.schedule(task, "timeout", at)
            else:  # only a date, left empty: no time-out, and the history says why
                self.log("no_timeout", step=step.id, task=task.id, no_date=True)

    def timeout_at(self, step: StepSpec, task: Task, *, due_now: bool = True
                   ) -> datetime | None:
        """When ``task`` of ``step`` times out: ``after`` its opening or at ``until``,
        whichever comes first; a moment already past is due now (the sweep fires it)
        unless ``due_now`` is false.  None when only ``until`` is written and its date
        is missing.  A date (not a time) is the start of that day in the calendar's time
        zone (China time), not in UTC."""
        from workflows.kinds.timer import moment

        timeout = step.timeout
        times = []
        if timeout.after is not None:
            times.append(add_duration(task.opened_at, timeout.after, self.calendar()))
        value = timeout.fixed if timeout.fixed is not None else (
            self.value(timeout.until) if timeout.until is not None else None)
        at = moment(value, self.now, self.calendar().tz)
        if at is not None:
            times.append(at)
        if not times:
            return None
        return max(min(times), self.now) if due_now else min(times)

    def update_task(self, task: Task, **changes: Any) -> Task:
        task = replace(task, **changes)
        self.tasks[task.id] = task
        if "assignees" in changes:
            self.effects.append(Assign(self.instance, task.id, task.step, task.assignees))
        return task

    def decide(self, task: Task, action: str, comment: str | None = None) -> Task:
        decision = Decision(self.actor, action, self.now, comment)
        return self.update_task(task, decisions=task.decisions + (decision,))

    def close_task(self, task: Task, outcome: str) -> Task:
        task = self.update_task(self.tasks[task.id], closed_at=self.now, outcome=outcome)
        for timer in [t for t in self.timers if t.task == task.id]:
            self.cancel_timer(timer)
        self.effects.append(TaskClosed(self.instance, task.id, task.step, outcome))
        return task

    def close_step_tasks(self, step_id: str, outcome: str) -> None:
        for task in self.open_tasks(step_id):
            self.close_task(task, outcome)

    # ------------------------------------------------------------------ timers
    def timer_key(self, task: Task, purpose: str) -> str:
        return f"{self.instance}:{task.id}:{purpose}"

    def schedule(self, task: Task, purpose: str, at: datetime) -> None:
        key = self.timer_key(task, purpose)
        self.timers = [t for t in self.timers if t.key != key]
        self.timers.append(TimerRef(key, at, purpose, task.id))
        self.effects.append(ScheduleTimer(key, at, purpose, self.instance, task.id))

    def move_timer(self, step: StepSpec, task: Task, current: TimerRef, at: datetime) -> None:
        """A date the ``current`` timer was set from moved to ``at``: arm it again (a date
        moved into the past is due at once: the sweep fires it), say so in the history and
        tell the applicant."""
        self.schedule(task, current.purpose, max(at, self.now))
        self.log("retime", step=step.id, task=task.id, before=current.at.isoformat(),
                 after=at.isoformat())
        self.notify([self.applicant], "retimed", task)

    def cancel_timer(self, timer: TimerRef) -> None:
        self.timers = [t for t in self.timers if t.key != timer.key]
        self.effects.append(CancelTimer(timer.key, self.instance))

    # ------------------------------------------------------------------ notify
    def notify(self, recipients: Iterable[Hashable], kind: str, task: Task | None = None,
               *, priority: str = "normal", **params: Any) -> None:
        """Tell ``recipients`` of ``kind`` — never the actor: whoever withdrew, resubmitted,
        claimed or decided sees what it did on the page it did it from, and in the
        request's history; a message about it would only be one more to mark read.

        One action, one message a person: a step's ``notify`` notice (``step_entered``)
        is not sent to anyone this action tells something more specific (候补成功 when
        a promotion enters the step, 已被认领, a task of theirs in it).

        Told to nobody because its only recipient was the actor, it is still an event: an
        ``Announce`` (for the unit's group chat), not a ``Notify``."""
        named = tuple(p for p in dict.fromkeys(recipients) if p is not None and p != SYSTEM)
        people = tuple(p for p in named if p != self.actor)
        if kind == STEP_ENTERED:
            told = {p for e in self.effects if isinstance(e, Notify) and e.kind != STEP_ENTERED
                    for p in e.recipients}
            people = tuple(p for p in people if p not in told)
        elif people:
            self._untell_step_entered(set(people))
        if not people and self.actor not in named:
            return
        step = self.spec.step(task.step) if task is not None else None
        base = {"process": self.spec.key, "process_name": self.spec.name,
                "process_name_en": self.spec.name_en or self.spec.name}
        if step is not None:
            base.update(step=step.id, step_name=step.name, step_name_en=step.name_en or step.name)
        base.update({k: v for k, v in params.items() if v is not None})
        task_id = task.id if task is not None else None
        if not people:
            self.effects.append(Announce(kind, self.instance, task_id, f"workflows.{kind}",
                                         MappingProxyType(base), priority))
            return
        self.effects.append(Notify(people, kind, self.instance, task_id,
                                   f"workflows.{kind}", MappingProxyType(base), priority))

    def _untell_step_entered(self, people: set) -> None:
        """Take ``people`` off this action's ``step_entered`` notices: they are told
        something more specific (a task in the step they were told of)."""
        kept = []
        for effect in self.effects:
            if isinstance(effect, Notify) and effect.kind == STEP_ENTERED \
                    and people.intersection(effect.recipients):
                effect = replace(effect, recipients=tuple(
                    p for p in effect.recipients if p not in people))
                if not effect.recipients:
                    continue
            kept.append(effect)
        self.effects[:] = kept

    # ------------------------------------------------------------------ routing
    def route(self, step: StepSpec, outcome: str) -> None:
        """Leave ``step`` along its ``outcome`` transition."""
        target = step.target(outcome)
        if target is None:
            raise DefinitionError(en=f"step '{step.id}' has no transition for '{outcome}'")
        self.goto(target)

    def goto(self, target: str) -> None:
        """Enter a step or an end (closing whatever is still open in the current step)."""
        self.hops += 1
        if self.hops > MAX_HOPS:
            raise DefinitionError(en="the definition loops through automatic steps without "
                                  "waiting for anyone")
        for step_id in self.current:
            self.close_step_tasks(step_id, "left")
        end = self.spec.end(target)
        if end is not None:
            self.finish(end.status, end.id)
            return
        step = self.step(target)
        self.current = [step.id]
        self.status = "running"
        self.log("enter", step=step.id)
        for rule in step.notify:
            self.notify(self.people(rule), STEP_ENTERED, None, step=step.id,
                        step_name=step.name, step_name_en=step.name_en or step.name)
        from workflows.kinds import kind_of
        kind_of(step).enter(self, step)

    def finish(self, status: str, end_id: str | None, **told: Any) -> None:
        """Reach a final status: close everything, stop timers, give places back.
        ``told``: more for the applicant's message (what was called off, and where)."""
        for task in self.open_tasks():
            self.close_task(task, status)
        for timer in list(self.timers):
            self.cancel_timer(timer)
        for reservation in list(self.reservations):
            if self._releases(reservation, status):
                self.release(reservation)
        self.status, self.end, self.ended_at = status, end_id, self.now
        self.current = []
        self.log("end", status=status, end=end_id)
        self.effects.append(Finished(self.instance, status, end_id))
        end = self.spec.end(end_id) if end_id else None
        # The end's own name says what happened (出勤不足未结业, 未到岗), not only the
        # status it is filed under (已过期).
        self.notify([self.base.applicant], "ended", None, status=status, end=end_id,
                    end_name=end.name if end else None,
                    end_name_en=(end.name_en or end.name) if end else None,
                    comment=self.ending_comment(), priority="normal", **told)

    def ending_comment(self) -> str | None:
        """What the person whose decision ended the request wrote with it (a rejection's
        reason), for the applicant — not the applicant's own words (a withdrawal)."""
        for line in reversed(self.history[len(self.base.history):]):
            if line.comment and line.actor not in (SYSTEM, self.base.applicant):
                return line.comment
        return None

    def _releases(self, reservation: Reservation, status: str) -> bool:
        if reservation.status != "granted":
            return True
        step = self.spec.step(reservation.step)
        release_on = getattr(step.config, "release_on", ()) if step else ()
        return status in release_on

    def release(self, reservation: Reservation) -> None:
        promoted = self.directory.release(reservation.resource, self.instance)
        self.reservations = [r for r in self.reservations if r.resource != reservation.resource]
        self.log("released", step=reservation.step, resource=reservation.resource)
        if promoted is not None and promoted != self.instance:
            self.effects.append(Promoted(promoted, reservation.resource))

    def set_claim(self, group: ClaimGroup | None) -> None:
        self.claim = group

    # ------------------------------------------------------------------ result
    def freeze(self, *, bump: bool = True) -> InstanceState:
        return replace(
            self.base, status=self.status, current=tuple(self.current),
            tasks=tuple(self.tasks.values()), data=freeze(self.data),
            version=self.base.version + (1 if bump else 0), history=tuple(self.history),
            claim=self.claim, reservations=tuple(self.reservations), timers=tuple(self.timers),
            end=self.end, ended_at=self.ended_at, task_counter=self.task_counter)


def started_for_by(history) -> Hashable | None:
    """Who started the request for its applicant (``start.on_behalf``), from its submit
    line; None when the applicant started it."""
    for entry in history:
        if entry.action == "submit":
            return entry.actor if entry.details.get("on_behalf_of") is not None else None
    return None
