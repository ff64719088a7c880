"""Action handlers: for each action, who may do it (``permit``) and what it does (``apply``).

``permit`` only reads and raises a typed error saying why not; ``available_actions``
relies on that to list the buttons a person may press without changing anything.
Actions on a step's own tasks (approve, complete, object, …) are passed to its kind.
"""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from workflows.errors import (AlreadyDecided, Conflict, InvalidInput, NotAllowed, NotFound)
from workflows.kinds import kind_of
from workflows.kinds import claim as claiming
from workflows.kinds.common import check_start, checked_form, comment_of, require_assignee
from workflows.kinds.reserve import ReserveKind
from workflows.rules import PersonRule, is_eligible
from workflows.runtime import SYSTEM, Action, Run, escalation_rule

if TYPE_CHECKING:
    from workflows.state import Task

STEP_TASK_ACTIONS = frozenset({"approve", "reject", "return", "complete", "object"})


def _is_platform_admin(run: Run) -> bool:
    if run.actor == SYSTEM:
        return False
    return any(role == "platform_admin" for role, _ in run.directory.roles_of(run.actor))


def open_task(run: Run, action: Action) -> Task:
    """The open task the action names; NotFound or Conflict with a plain reason."""
    if not action.task:
        raise InvalidInput("请指定任务", "Say which task", code="task_required")
    task = run.tasks.get(action.task)
    if task is None:
        raise NotFound("未找到该任务", "There is no such task")
    if not task.open:
        raise AlreadyDecided("该任务已处理完毕", "This task has already been completed")
    return task


class Handler:
    system_only = False

    def permit(self, run: Run, action: Action) -> None:
        raise NotImplementedError

    def apply(self, run: Run, action: Action) -> None:
        raise NotImplementedError


class StepTaskHandler(Handler):
    """approve / reject / return / complete / object: handled by the step's kind."""

    def permit(self, run: Run, action: Action) -> None:
        task = open_task(run, action)
        step = run.step(task.step)
        kind = kind_of(step)
        if task.kind == "revise" or action.kind not in kind.task_actions:
            raise NotAllowed("此任务不支持该操作", f"This task does not take '{action.kind}'")
        kind.permit(run, step, task, action)

    def apply(self, run: Run, action: Action) -> None:
        task = run.tasks[action.task]
        step = run.step(task.step)
        kind_of(step).apply(run, step, task, action)


class Resubmit(Handler):
    """The applicant sends a returned request back, corrected."""

    def permit(self, run: Run, action: Action) -> None:
        if run.actor != run.applicant:
            raise NotAllowed("只有申请人可以重新提交", "Only the applicant can resubmit")
        if run.status != "returned" or self._revise_task(run) is None:
            raise Conflict("该申请未被退回", "This request has not been returned for revision",
                           code="not_returned")

    def _revise_task(self, run: Run) -> Task | None:
        return next((t for t in run.open_tasks() if t.kind == "revise"), None)

    def apply(self, run: Run, action: Action) -> None:
        task = self._revise_task(run)
        start_fields = run.spec.start.form.names
        merged = {k: v for k, v in run.data.items() if k in start_fields}
        merged.update(action.data or {})
        cleaned = checked_form(run, run.spec.start.form, merged, base={})
        _check_fixed_fields(run, cleaned)
        changes = run.merge_data(cleaned)
        check_start(run)
        comment = (action.comment or "").strip() or None
        run.decide(task, "resubmit", comment)
        run.close_task(task, "resubmitted")
        run.log("resubmit", step=task.step, task=task.id, comment=comment, changes=changes)
        run.status = "running"
        run.goto(task.step)


def _check_fixed_fields(run: Run, cleaned: dict) -> None:
    """Refuse a resubmission that changes what the instance's unique key or a place it
    holds was taken for (the batch, the course, the slot): the key and the place would
    no longer match the form, letting a second request or an unpaid quota through."""
    templates = [run.spec.start.unique] + [
        getattr(run.step(r.step).config, "resource", None) for r in run.reservations]
    fixed = {name.split(".")[1] for t in templates if t is not None for name in t.names()
             if name.split(".")[0] in ("form", "record") and "." in name}
    changed = sorted(n for n in fixed if n in cleaned and cleaned[n] != run.data.get(n))
    if changed:
        message = ("提交后不能修改此项；如需更改，请撤回后重新申请",
                   "This cannot be changed once submitted; withdraw and apply again")
        raise InvalidInput(*message, code="fixed_field",
                           field_errors={name: [message] for name in changed})


class Withdraw(Handler):
    def permit(self, run: Run, action: Action) -> None:
        if run.actor != run.applicant:
            raise NotAllowed("只有申请人可以撤回", "Only the applicant can withdraw")
        if not run.spec.start.withdraw or any(
                not run.step(s).withdraw for s in run.current):
            raise NotAllowed("当前阶段不能撤回", "It can no longer be withdrawn at this stage",
                             code="withdraw_closed")

    def apply(self, run: Run, action: Action) -> None:
        comment = (action.comment or "").strip() or None
        run.log("withdraw", step=run.current[0] if run.current else None, comment=comment)
        people = {p for t in run.open_tasks() for p in t.assignees}
        run.finish("withdrawn", None)
        run.notify(sorted(people, key=str), "withdrawn", None, priority="normal")


class Cancel(Handler):
    def permit(self, run: Run, action: Action) -> None:
        if not _is_platform_admin(run):
            raise NotAllowed("只有平台管理员可以取消流程", "Only a platform administrator can cancel")

    def apply(self, run: Run, action: Action) -> None:
        reason = comment_of(action, required=True, what_zh="取消理由",
                            what_en="a reason for cancelling")
        run.log("cancel", comment=reason)
        run.finish("cancelled", None)


# Roles whose holders run a station and what is offered there (its duty slots): its head,
# and the administrators above it.
STATION_RUNNERS = frozenset({"station_head", "unit_admin", "district_admin", "city_admin"})


CALLED_OFF_PARAMS = ("slot_when", "station_name", "station_name_en")


class CallOff(Handler):
    """Those who run the station a request is for (its head, an administrator above it,
    a platform administrator) call off what the request holds a place in — a duty slot
    the station cannot staff (closed for a storm).  ``data["resource"]`` names the place;
    the request ends cancelled, and the applicant is told the reason given — and, with
    ``data["slot_when"]``, ``["station_name"]`` and ``["station_name_en"]``, which duty
    at which station the station called off."""

    def permit(self, run: Run, action: Action) -> None:
        resource = (action.data or {}).get("resource")
        if not any(r.resource == resource for r in run.reservations):
            raise Conflict("该申请没有占用这个名额", "This request holds no place in that",
                           code="not_reserved")
        if _is_platform_admin(run):
            return
        stations = [run.data.get(f.name) for f in run.spec.start.form.fields
                    if f.type == "station"]
        posts = {at for role, at in run.directory.roles_of(run.actor) if role in STATION_RUNNERS}
        if not posts or not any(u.id in posts for s in stations if isinstance(s, int)
                                and not isinstance(s, bool)
                                for u in run.directory.ancestors(s)):
            raise NotAllowed("只有该驿站的站长或上级管理员可以取消",
                             "Only the station's head or an administrator above it can "
                             "call this off")

    def apply(self, run: Run, action: Action) -> None:
        reason = comment_of(action, required=True, what_zh="取消理由",
                            what_en="a reason for cancelling")
        run.log("call_off", comment=reason, resource=action.data["resource"])
        # What was called off, as the caller names it (a duty slot's time and station):
        # the applicant's message says which, not only that their request was cancelled.
        run.finish("cancelled", None, **{k: str(v) for k, v in action.data.items()
                                         if k in CALLED_OFF_PARAMS and v})


def assignee_rules(run: Run, task: Task) -> list[PersonRule]:
    """The rules a person must satisfy to hold ``task`` (its step's rule, its escalation)."""
    step = run.step(task.step)
    rule = getattr(step.config, "approvers", None) or getattr(step.config, "assignee", None)
    if rule is None or rule.special is not None:
        return []
    rules = [rule]
    escalation = escalation_rule(step, rule)
    if escalation is not None:
        rules.append(escalation)
    return rules


def _check_new_assignee(run: Run, task: Task, user: object) -> None:
    if user is None or user == SYSTEM:
        raise InvalidInput("请选择转交给谁", "Choose who should take over", code="user_required",
                           field_errors={"user": [("请选择人员", "Choose a person")]})
    if user in task.assignees:
        raise InvalidInput("该人员已是办理人", "That person already has this task",
                           code="already_assignee")
    if user == run.applicant:
        raise NotAllowed("申请人本人不能办理自己的申请，请另选他人",
                         "The applicant cannot handle their own request; choose someone else",
                         code="not_eligible")
    if user in run.stepping_aside():
        raise NotAllowed("代为申请的人不能办理这份申请，请另选他人",
                         "Whoever started the request for the applicant cannot handle it; "
                         "choose someone else", code="not_eligible")
    if not any(is_eligible(rule, user, run.rule_context()) for rule in assignee_rules(run, task)):
        raise NotAllowed("该人员不符合办理条件", "That person may not handle this task",
                         code="not_eligible")


class Delegate(Handler):
    """An assignee hands their part of a task to another eligible person."""

    def permit(self, run: Run, action: Action) -> None:
        task = open_task(run, action)
        if task.kind not in ("approval", "task") or not assignee_rules(run, task):
            raise NotAllowed("此任务不能转交", "This task cannot be handed over")
        require_assignee(run, task)
        if task.decided_by(run.actor) is not None:
            raise AlreadyDecided("您已处理过此任务", "You have already decided this task")

    def apply(self, run: Run, action: Action) -> None:
        task = run.tasks[action.task]
        _check_new_assignee(run, task, action.user)
        people = tuple(action.user if p == run.actor else p for p in task.assignees)
        # Whoever takes over from an escalation target takes over that standing too.
        escalated = tuple(action.user if p == run.actor else p for p in task.escalated)
        # Handed on, a stalled task has someone again: off the administrators' list.
        task = run.update_task(task, assignees=people, escalated=escalated, stalled=False)
        run.log("delegate", step=task.step, task=task.id, comment=action.comment,
                to=action.user)
        run.notify([action.user], "task_assigned", task, delegated_by=run.actor,
                   comment=action.comment)  # why it is theirs now, in their notification


# Roles whose holders may give a task nobody holds to someone, for requests whose
# applicant — or the station they name — belongs to their part of the tree.  A platform administrator may reassign any.
REASSIGN_ROLES = frozenset({"unit_admin", "district_admin", "city_admin"})


def is_stuck(task: Task) -> bool:
    """Nobody holds the task (no assignee is still to act on it), or it is overdue and its
    escalation found nobody above (``stalled``): an administrator has to find someone."""
    return task.stalled or not any(task.decided_by(p) is None for p in task.assignees)


def request_units(run: Run) -> tuple:
    """The units a request lies under: the applicant's, and each station its form names
    (a wish, a demand, a duty at a station is run by that station's street and
    district, whoever's request it is)."""
    units = [run.base.applicant_unit]
    for field in run.spec.start.form.fields:
        value = run.data.get(field.name) if field.type == "station" else None
        if isinstance(value, int) and not isinstance(value, bool):
            units.append(value)
    return tuple(dict.fromkeys(u for u in units if u is not None))


def _oversees_request(run: Run) -> bool:
    # Roles first: most people hold none of these, and then the tree is not read.
    posts = {at for role, at in run.directory.roles_of(run.actor) if role in REASSIGN_ROLES}
    return bool(posts) and any(u.id in posts for unit in request_units(run)
                               for u in run.directory.ancestors(unit))


class Reassign(Handler):
    """An administrator gives a stuck task to an eligible person: a platform
    administrator any task, a unit/district/city administrator a task nobody holds on
    a request from their part of the tree.  Never on their own request."""

    def permit(self, run: Run, action: Action) -> None:
        task = open_task(run, action)
        if task.kind not in ("approval", "task") or not assignee_rules(run, task):
            raise NotAllowed("此任务不能改派", "This task cannot be reassigned")
        if run.actor == run.applicant:
            raise NotAllowed("不能改派自己申请中的任务", "You cannot reassign a task of your "
                             "own request", code="own_request")
        if _is_platform_admin(run):
            return
        if not _oversees_request(run):
            raise NotAllowed("只有负责该范围的管理员可以改派任务",
                             "Only an administrator responsible for the applicant's unit "
                             "or the station the request names can reassign tasks")
        if not is_stuck(task):
            raise NotAllowed("此任务已有人办理，只有平台管理员可以改派",
                             "Someone already holds this task; only a platform "
                             "administrator can reassign it", code="task_held")

    def apply(self, run: Run, action: Action) -> None:
        task = run.tasks[action.task]
        _check_new_assignee(run, task, action.user)
        decided = tuple(d.by for d in task.decisions if d.by in task.assignees)
        people = decided + (action.user,)
        task = run.update_task(task, assignees=people, stalled=False,
                               escalated=tuple(p for p in task.escalated if p in people))
        run.log("reassign", step=task.step, task=task.id, comment=action.comment,
                to=action.user)
        run.notify([action.user], "task_assigned", task, comment=action.comment)


URGE_INTERVAL = timedelta(hours=4)  # one press of a task's holders at a time, no more


def _urged(task: Task, actor) -> tuple:
    """Whom a press (催办) of ``task`` reaches: its own holders still to act (not the one
    pressing, not others brought in by escalation)."""
    return tuple(p for p in task.assignees if task.decided_by(p) is None
                 and p != actor and p not in task.escalated)


class Urge(Handler):
    """催办: one brought in by escalation, an administrator over the applicant's unit (or
    the station the request names) or a platform administrator presses the people who hold a task to act — a notification
    with an optional note, and a line in the record; once per ``URGE_INTERVAL``."""

    def permit(self, run: Run, action: Action) -> None:
        task = open_task(run, action)
        if not _urged(task, run.actor):
            raise NotAllowed("此任务没有可催办的办理人", "Nobody holds this task to be pressed",
                             code="nobody_to_urge")
        if run.actor not in task.escalated and (
                run.actor in task.assignees  # a holder acts on it rather than press others
                or not (_is_platform_admin(run) or _oversees_request(run))):
            raise NotAllowed("只有督办人或负责该范围的管理员可以催办",
                             "Only whoever the task was escalated to, or an administrator "
                             "responsible for the applicant's unit or the station the "
                             "request names, can press for it")
        last = next((h.at for h in reversed(run.history)
                     if h.action == "urge" and h.task == task.id), None)
        if last is not None and run.now - last < URGE_INTERVAL:
            raise Conflict("已催办过，请 4 小时后再催", "Already pressed for; try again in 4 hours",
                           code="urged_recently")

    def apply(self, run: Run, action: Action) -> None:
        task = run.tasks[action.task]
        comment = comment_of(action, required=False, what_zh="附言", what_en="a note") or None
        people = _urged(task, run.actor)
        run.log("urge", step=task.step, task=task.id, comment=comment, to=list(people))
        run.notify(people, "urged", task, comment=comment, priority="high")


class Claim(Handler):
    def permit(self, run: Run, action: Action) -> None:
        claiming.permit_claim(run)

    def apply(self, run: Run, action: Action) -> None:
        claiming.apply_claim(run, action)


class Unclaim(Handler):
    def permit(self, run: Run, action: Action) -> None:
        claiming.permit_unclaim(run)

    def apply(self, run: Run, action: Action) -> None:
        claiming.apply_unclaim(run, action)


class Comment(Handler):
    """Anyone involved may add a remark to the record; nothing else changes."""

    def permit(self, run: Run, action: Action) -> None:
        involved = {run.applicant}
        for task in run.tasks.values():
            involved.update(task.assignees)
            involved.update(d.by for d in task.decisions)
        if run.claim is not None:
            involved.update(run.claim.claimers)
        if run.actor not in involved and not _is_platform_admin(run):
            raise NotAllowed("您未参与此事项，不能留言", "You are not involved in this request")

    def apply(self, run: Run, action: Action) -> None:
        text = comment_of(action, required=True, what_zh="留言内容", what_en="a comment")
        run.log("comment", comment=text, task=action.task)
        others = [run.applicant] + [p for t in run.open_tasks() for p in t.assignees]
        run.notify([p for p in others if p != run.actor], "comment", None, comment=text)


class Fire(Handler):
    """A scheduled timer is due (sent by the web layer's scheduler as SYSTEM)."""

    system_only = True

    def permit(self, run: Run, action: Action) -> None:
        if not any(t.key == action.timer for t in run.timers):
            raise Conflict("该定时任务已失效", "This timer is no longer active",
                           code="stale_timer")

    def apply(self, run: Run, action: Action) -> None:
        timer = next(t for t in run.timers if t.key == action.timer)
        run.timers = [t for t in run.timers if t.key != timer.key]
        task = run.tasks[timer.task]
        step = run.step(task.step)
        if timer.purpose == "remind":
            waiting = [p for p in task.assignees if task.decided_by(p) is None]
            if not waiting:
                return  # a pool's, or nobody holds it (待指派): no line saying 提醒 to no one
            run.log("remind", step=step.id, task=task.id)
            # Not urgent: a reminder by e-mail waits for the end of its reader's quiet
            # hours (a step begun at 18:39 is reminded at 18:39 days later — or 02:39 in
            # China); an escalation does not wait.
            run.notify(waiting, "reminder", task, priority="normal")
        elif timer.purpose == "escalate":
            _escalate(run, step, task)
        elif timer.purpose == "timeout":
            _timeout(run, step, task)
        else:
            kind_of(step).fire(run, step, task)


def _escalate(run: Run, step, task: Task) -> None:
    """Bring in the next level: as extra assignees of a named task, else as watchers.

    The people brought in are marked ``escalated``: on an approval they decide for the
    step on their own (``approval.tally``) rather than becoming one more required vote.
    The applicant is never brought in to handle their own request.
    """
    rules = assignee_rules(run, task)
    rule = rules[-1] if len(rules) > 1 else (step.sla.escalate_to if step.sla else None)
    people = [p for p in run.people(rule)
              if p not in task.assignees and p != run.applicant] if rule else []
    run.log("escalate", step=step.id, task=task.id, to=list(people) or None)
    if not people:
        _stalled(run, task, named=bool(rules))
        return
    if rules:
        task = run.update_task(task, assignees=task.assignees + tuple(people),
                               escalated=task.escalated + tuple(people))
    # Brought in as watchers of a pool (a wish nobody has claimed), they cannot take the
    # task: they are asked to find someone who will, not to "help deal with" it.
    run.notify(people, "escalated" if rules else "escalated_watch", task, priority="high")


def _stalled(run: Run, task: Task, *, named: bool) -> None:
    """An escalation that found nobody at the level above (no such role there): the
    administrators nearest the applicant's unit are told at once, rather than the task
    waiting on in silence.  A task for named people becomes theirs to reassign (``stalled``:
    on their 待指派 list, as a task nobody holds is); for a pool they are asked to find
    someone who will take it up."""
    if named:
        task = run.update_task(task, stalled=True)
    # Not those it is overdue with: the level above them, who can take it from them.
    skip = set(task.assignees) | {run.applicant}
    run.notify(nearest_administrators(run, skip), "stalled" if named else "escalated_watch",
               task, priority="high")


def nearest_administrators(run: Run, skip: set) -> tuple:
    """The unit, district or city administrators (other than ``skip``) of the nearest
    level above the request's unit that has any — from the level at which those in
    ``skip`` hold their posts, if it is one of those (a district's approval overdue goes
    to the district's other administrators, else the city's, never back down to the
    applicant's own unit); else the platform administrators.  The request's unit is the
    station it names when those in ``skip`` hold their posts along the station's chain
    (a station head's check: the station's street and district), else the applicant's."""
    units = request_units(run)
    if not units:
        return ()
    posts = {at for person in skip - {run.applicant} for _, at in run.directory.roles_of(person)}
    chains = [list(run.directory.ancestors(unit)) for unit in units]
    chain = next((c for c in chains if any(level.id in posts for level in c)), chains[0])
    start = max((i for i, level in enumerate(chain) if level.id in posts), default=0)
    unit = chain[0].id if chain else units[0]
    for level in chain[start:]:
        found = tuple(dict.fromkeys(
            p for role in sorted(REASSIGN_ROLES)
            for p in run.directory.users_with_role(role, level.id, inherit=False)
            if p not in skip))
        if found:
            return found
    return tuple(p for p in run.directory.users_with_role("platform_admin", unit)
                 if p not in skip)


def _timeout(run: Run, step, task: Task) -> None:
    run.log("timeout", step=step.id, task=task.id, to=step.timeout.go)
    for reservation in [r for r in run.reservations
                        if r.step == step.id and r.status != "granted"]:
        run.release(reservation)
    run.close_step_tasks(step.id, "timeout")
    run.goto(step.timeout.go)


class Retime(Handler):
    """The date a waiting step waits for moved (a course's end changed): its timers
    follow.  Steps that wait for a duration or a fixed date keep theirs."""

    system_only = True

    def permit(self, run: Run, action: Action) -> None:
        if run.status not in ("running", "waitlisted", "returned"):
            raise Conflict("申请已结束", "The request has ended", code="ended")

    def apply(self, run: Run, action: Action) -> None:
        for task in run.open_tasks():
            step = run.step(task.step)
            kind_of(step).retime(run, step, task)
            _retime_timeout(run, step, task)


def _retime_timeout(run: Run, step, task: Task) -> None:
    """A time-out set from a date (``timeout.until``) follows the date."""
    if step.timeout is None or step.timeout.until is None:
        return
    key = run.timer_key(task, "timeout")
    current = next((t for t in run.timers if t.key == key), None)
    at = run.timeout_at(step, task, due_now=False)
    if current is None and at is not None:  # the date was missing and now is given
        run.schedule(task, "timeout", max(at, run.now))
        return
    if current is None or at is None or at == current.at \
            or at <= run.now and current.at <= run.now:
        return  # unchanged, or past either way (the sweep fires it): nothing moved
    run.move_timer(step, task, current, at)


class Promote(Handler):
    """The capacity port gave this waiting instance a place."""

    system_only = True

    def permit(self, run: Run, action: Action) -> None:
        if run.status != "waitlisted" or not run.current:
            raise Conflict("该申请不在候补名单中", "This request is not on a waiting list",
                           code="not_waitlisted")

    def apply(self, run: Run, action: Action) -> None:
        step = run.step(run.current[0])
        kind = kind_of(step)
        if not isinstance(kind, ReserveKind):
            raise Conflict("该申请不在候补名单中", "This request is not on a waiting list",
                           code="not_waitlisted")
        kind.promote(run, step)


HANDLERS: dict[str, Handler] = {
    **{name: StepTaskHandler() for name in STEP_TASK_ACTIONS},
    "resubmit": Resubmit(), "withdraw": Withdraw(), "cancel": Cancel(), "call_off": CallOff(),
    "delegate": Delegate(), "reassign": Reassign(), "claim": Claim(), "unclaim": Unclaim(),
    "comment": Comment(), "fire": Fire(), "promote": Promote(), "retime": Retime(),
    "urge": Urge(),
}
