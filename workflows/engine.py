"""The engine's public functions: pure steps from one instance state to the next.

    state, effects = start(spec, applicant, data, now, directory, instance_id=...)
    state, effects = act(spec, state, action, actor, now, directory)

Both return a new ``InstanceState`` (the old one is untouched) and a list of effects
(``workflows.effects``) for the web layer to save and carry out after its commit.
Neither touches a database, a clock or a queue: ``now`` and ``directory`` come in.
Errors are typed (``workflows.errors``) and say why in Chinese and English.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Hashable, Mapping

from workflows.actions import HANDLERS, STEP_TASK_ACTIONS, assignee_rules
from workflows.directory import Directory
from workflows.errors import (Conflict, DefinitionError, InvalidInput, NotAllowed, StateError,
                              WorkflowError)
from workflows.kinds.common import check_start, checked_form, comment_of
from workflows.rules import eligible_any, record_source, uses_applicant_unit
from workflows.runtime import SYSTEM, Action, Run
from workflows.spec import ProcessSpec
from workflows.state import InstanceState

__all__ = ["start", "act", "available_actions", "Action", "SYSTEM", "Available",
           "can_start", "can_start_for_others", "start_for_refusal", "reassign_candidates"]


def start(spec: ProcessSpec, applicant: Hashable, data: Mapping[str, Any] | None,
          now: datetime, directory: Directory, *, instance_id: Hashable,
          by: Hashable | None = None) -> tuple[InstanceState, list[Any]]:
    """Submit a new instance of ``spec`` for ``applicant`` with start-form ``data``.

    ``instance_id`` is the id the web layer stores the instance under (it appears in
    timer keys and effects).  ``by``: who fills the form in for the applicant (代为申请),
    if not the applicant: one the definition's ``start.on_behalf`` names relative to the
    applicant.  The request is then the applicant's in every way (their unit's approvers
    and quota, their one-a-year rule, their later tasks); the history's first line is
    ``by``'s, with ``on_behalf_of``, and the applicant is told.  Raises NotAllowed (may
    not start, already has an active one), InvalidInput (form errors per field) or
    CapacityExhausted.
    """
    if not spec.digest:
        raise DefinitionError(en="the definition was not loaded by workflows.loader")
    if by is None or by == applicant:
        by = None
    for person in (applicant, by) if by is not None else (applicant,):
        if person is None or person == SYSTEM:
            raise NotAllowed("请先登录", "Please sign in first", code="not_signed_in")
    unit = directory.unit_of(applicant)
    state = InstanceState(instance_id=instance_id, process=spec.key,
                          definition_digest=spec.digest, applicant=applicant,
                          applicant_unit=unit, status="running", started_at=now)
    run = Run(spec, state, directory, now, applicant if by is None else by)
    if by is None:
        permit_start(run)
    else:
        permit_on_behalf(run, by)
    cleaned = checked_form(run, spec.start.form, data, base={})
    run.data.update(cleaned)
    check_start(run)
    unique_key = spec.start.unique.render(run.lookup_name) if spec.start.unique else None
    _check_active(spec, applicant, unique_key, directory, for_other=by is not None)
    _check_overlap(run)
    run.log("submit", changes={k: [None, v] for k, v in cleaned.items() if v is not None},
            on_behalf_of=applicant if by is not None else None)
    if by is not None:
        run.notify([applicant], "started_for_you")
    run.goto(spec.start.first)
    new = run.freeze()
    return replace(new, unique_key=unique_key), run.effects


def permit_start(run: Run) -> None:
    spec = run.spec
    if not eligible_any(spec.start.who, run.applicant, run.rule_context()):
        who = "、".join(r.describe("zh") for r in spec.start.who)
        who_en = ", ".join(r.describe("en") for r in spec.start.who)
        raise NotAllowed(f"只有{who}可以发起“{spec.name}”",
                         f"Only {who_en} may start '{spec.name_en or spec.name}'")
    if run.base.applicant_unit is None and _needs_applicant_unit(spec):
        raise NotAllowed("您还没有所属单位，请先联系管理员", "You do not belong to a unit yet; "
                         "please ask an administrator", code="no_unit")


def permit_on_behalf(run: Run, by: Hashable) -> None:
    """Whether ``by`` may start ``run``'s request for its applicant: the definition allows
    it, the applicant could start it themselves, and ``by`` matches ``start.on_behalf``
    relative to the applicant."""
    spec = run.spec
    name, name_en = spec.name, spec.name_en or spec.name
    if not spec.start.on_behalf:
        raise NotAllowed(f"“{name}”不能代他人发起", f"'{name_en}' cannot be started for "
                         "someone else", code="no_on_behalf")
    context = run.rule_context()
    if not eligible_any(spec.start.who, run.applicant, context):
        who = "、".join(r.describe("zh") for r in spec.start.who)
        who_en = ", ".join(r.describe("en") for r in spec.start.who)
        raise NotAllowed(f"被代办人不符合条件：只有{who}可以作为“{name}”的申请人",
                         f"That person cannot be the applicant: only {who_en} may be the "
                         f"applicant of '{name_en}'", code="applicant_not_eligible")
    if run.base.applicant_unit is None and _needs_applicant_unit(spec):
        raise NotAllowed("被代办人还没有所属单位，请先为其设置单位",
                         "That person does not belong to a unit yet", code="no_unit")
    if not eligible_any(spec.start.on_behalf, by, context):
        who = "、".join(r.describe("zh") for r in spec.start.on_behalf)
        who_en = ", ".join(r.describe("en") for r in spec.start.on_behalf)
        raise NotAllowed(f"您不能为此人发起“{name}”：只有{who}可以代为发起",
                         f"You may not start '{name_en}' for this person: only {who_en} "
                         "may", code="not_on_behalf")


def can_start_for_others(spec: ProcessSpec, user: Hashable, directory: Directory) -> bool:
    """Whether ``user`` holds a role ``start.on_behalf`` names (for offering the start
    form with a field for whom; who exactly they may start for is checked at start)."""
    return user is not None and user != SYSTEM and any(
        role == rule.role for rule in spec.start.on_behalf
        for role, _unit in directory.roles_of(user))


def start_for_refusal(spec: ProcessSpec, by: Hashable, applicant: Hashable,
                      directory: Directory) -> NotAllowed | None:
    """Why ``by`` may not start ``spec`` for ``applicant`` (before the form: the person is
    not eligible, ``by`` does not cover them), or None if they may."""
    state = InstanceState(None, spec.key, spec.digest, applicant, directory.unit_of(applicant),
                          "running", datetime.min)
    try:
        permit_on_behalf(Run(spec, state, directory, datetime.min, by), by)
    except NotAllowed as exc:
        return exc
    return None


def can_start(spec: ProcessSpec, applicant: Hashable, directory: Directory) -> bool:
    """Whether ``applicant`` may start ``spec`` (for showing the start button)."""
    state = InstanceState(None, spec.key, spec.digest, applicant, directory.unit_of(applicant),
                          "running", datetime.min)
    try:
        permit_start(Run(spec, state, directory, datetime.min, applicant))
    except NotAllowed:
        return False
    return True


def _needs_applicant_unit(spec: ProcessSpec) -> bool:
    if any(uses_applicant_unit(rule) for rule in spec.person_rules()):
        return True
    templates = [spec.start.unique] + [getattr(s.config, "resource", None) for s in spec.steps]
    return any("applicant.unit" in t.names() for t in templates if t is not None)


def _check_overlap(run: Run) -> None:
    """Refuse a second open instance whose record's time window overlaps this one's
    (a volunteer cannot be on duty at two stations at once)."""
    name = run.spec.start.no_overlap
    value = run.data.get(name) if name else None
    if value is None:
        return
    source = record_source(run.spec.start.form.field(name))
    window = run.directory.record(source, value) or {}
    if window.get("starts_at") is None or window.get("ends_at") is None:
        return
    if run.directory.overlaps(run.spec.key, run.applicant, name, source,
                              window["starts_at"], window["ends_at"]):
        raise Conflict("这个时段与您已报名的另一个时段重叠", "This overlaps another time you "
                       "have signed up for", code="overlap")


def already_active(spec: ProcessSpec) -> Conflict:
    """The refusal of a second open request of a one-at-a-time process."""
    return Conflict(f"您已有一个进行中的“{spec.name}”，请办结后再提交",
                    f"You already have an open '{spec.name_en or spec.name}'",
                    code="already_active")


def _check_active(spec: ProcessSpec, applicant: Hashable, unique_key: str | None,
                  directory: Directory, *, for_other: bool = False) -> None:
    if spec.start.one_active_per_applicant and directory.has_active(spec.key, applicant, None):
        if for_other:
            raise Conflict(f"此人已有一个进行中的“{spec.name}”，须办结后才能再提交",
                           f"That person already has an open '{spec.name_en or spec.name}'",
                           code="already_active")
        raise already_active(spec)
    if unique_key is not None and (
            directory.has_active(spec.key, applicant, unique_key)
            or (spec.start.unique_counts and directory.has_ended(
                spec.key, applicant, unique_key, spec.start.unique_counts))):
        if for_other:
            raise Conflict("此人已有相同的申请（如同一年度已被推荐过），不能重复提交",
                           "That person already has this same request (e.g. one this year "
                           "already)", code="duplicate", details={"unique_key": unique_key})
        raise Conflict("您已提交过相同的申请", "You have already made this same request",
                       code="duplicate", details={"unique_key": unique_key})


def act(spec: ProcessSpec, state: InstanceState, action: Action, actor: Hashable,
        now: datetime, directory: Directory) -> tuple[InstanceState, list[Any]]:
    """Apply ``action`` by ``actor`` to ``state``; the new state and the effects.

    Every successful action adds history and increments ``version`` by one.  Timer
    firings and promotions use ``actor=SYSTEM``.  Raises NotAllowed, NotFound,
    AlreadyDecided/Conflict (task closed, instance ended, version changed, stale timer),
    InvalidInput (missing comment, form errors) or CapacityExhausted.
    """
    run = _prepare(spec, state, action, actor, now, directory)
    handler = HANDLERS[action.kind]
    handler.permit(run, action)
    handler.apply(run, action)
    return run.freeze(), run.effects


def _prepare(spec: ProcessSpec, state: InstanceState, action: Action, actor: Hashable,
             now: datetime, directory: Directory) -> Run:
    if state.process != spec.key or state.definition_digest != spec.digest:
        raise StateError("流程定义版本不匹配", "The instance belongs to another definition "
                         "version; load the version it started with")
    if not isinstance(action, Action) or not isinstance(action.kind, str) \
            or action.kind not in HANDLERS:
        kind = getattr(action, "kind", action)
        raise InvalidInput("不支持的操作", f"Unknown action {kind!r}", code="unknown_action")
    _check_arguments(action)
    if action.expected_version is not None and action.expected_version != state.version:
        raise Conflict(code="version_conflict")
    if state.finished:
        raise Conflict("此流程已结束", "This request has already ended", code="finished")
    if actor is None:
        raise NotAllowed("请先登录", "Please sign in first", code="not_signed_in")
    system_only = HANDLERS[action.kind].system_only
    if system_only != (actor == SYSTEM):
        raise NotAllowed("此操作只能由系统执行" if system_only else "系统不能执行此操作",
                         "Only the system does this" if system_only
                         else "The system cannot do this", code="system_only")
    return Run(spec, state, directory, now, actor)


def _check_arguments(action: Action) -> None:
    """Refuse arguments of the wrong type before any handler looks at them."""
    wrong = [name for name in ("task", "comment", "to", "timer")
             if getattr(action, name) is not None and not isinstance(getattr(action, name), str)]
    if action.data is not None and not isinstance(action.data, Mapping):
        wrong.append("data")
    version = action.expected_version
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        wrong.append("expected_version")
    try:
        hash(action.user)
    except TypeError:
        wrong.append("user")
    if wrong:
        raise InvalidInput("操作参数有误", f"Bad action argument(s): {', '.join(wrong)}",
                           code="bad_argument",
                           field_errors={name: [("格式不正确", "Wrong type")] for name in wrong})
    comment_of(action, required=False)  # length and characters, for every action


@dataclass(frozen=True)
class Available:
    """An action a person may take now (``task`` is None for instance-wide ones)."""

    action: str
    task: str | None = None
    step: str | None = None


_INSTANCE_ACTIONS = ("withdraw", "cancel", "claim", "unclaim", "comment", "resubmit")
_TASK_INSTANCE_ACTIONS = ("claim", "resubmit")  # the instance's actions a task's page offers
_TASK_ACTIONS = tuple(sorted(STEP_TASK_ACTIONS)) + ("delegate", "reassign", "urge")


def available_actions(spec: ProcessSpec, state: InstanceState, actor: Hashable,
                      directory: Directory, now: datetime, *, task: str | None = None
                      ) -> list[Available]:
    """What ``actor`` may do with the instance now — the buttons to show.

    Only the permission checks run (nothing changes); an action listed here can still
    fail on its input (a missing comment, a form error) or if someone acts first.
    ``task``: only what concerns that task — its own actions, and claiming or
    resubmitting the request it belongs to (one task's page or API call asks no more).
    """
    if state.finished or actor is None or actor == SYSTEM:
        return []
    run = Run(spec, state, directory, now, actor)
    found: list[Available] = []
    for name in _INSTANCE_ACTIONS if task is None else _TASK_INSTANCE_ACTIONS:
        if _permitted(run, Action(name)):
            found.append(Available(name))
    for open_task in state.open_tasks:
        if task is not None and open_task.id != task:
            continue
        for name in _TASK_ACTIONS:
            if _permitted(run, Action(name, task=open_task.id)):
                found.append(Available(name, open_task.id, open_task.step))
    return found


def refusal(spec: ProcessSpec, state: InstanceState, actor: Hashable, directory: Directory,
            now: datetime, action: Action) -> WorkflowError | None:
    """Why ``actor`` may not do ``action`` now — the error ``act`` would raise before
    changing anything (not allowed, already done by them…) — or None if they may."""
    if state.finished or actor is None or actor == SYSTEM:
        return None
    try:
        HANDLERS[action.kind].permit(Run(spec, state, directory, now, actor), action)
    except WorkflowError as exc:
        return exc
    return None


def _permitted(run: Run, action: Action) -> bool:
    try:
        HANDLERS[action.kind].permit(run, action)
    except WorkflowError:
        return False
    return True


def reassign_candidates(spec: ProcessSpec, state: InstanceState, task_id: str,
                        directory: Directory) -> tuple[Hashable, ...]:
    """Who a task could be reassigned to: the people its step's rule or that rule's
    escalation names, other than the applicant (and whoever started it for them) and
    those who already hold it.

    For suggesting names to an administrator; ``reassign`` itself checks eligibility.
    """
    task = state.task(task_id)
    if task is None or not task.open:
        return ()
    run = Run(spec, state, directory, state.started_at, SYSTEM)
    aside = run.stepping_aside()
    found: dict[Hashable, None] = {}
    for rule in assignee_rules(run, task):
        for person in run.people(rule):
            if person not in aside and person not in task.assignees:
                found[person] = None
    return tuple(found)
