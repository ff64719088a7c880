"""``claim``: work offered to a pool; the first ``capacity`` eligible people to claim win.

The step goes on once it is full.  Later steps whose assignee is ``claimer`` belong to
the claimers.  With ``waitlist: true`` people may still queue while those steps run;
when a claimer gives up (``unclaim``) the first in the queue takes the place, else the
work goes back to the pool.  Coming back to the claim step (say a timeout in the
fulfilment step) releases the old claims.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from workflows.errors import AlreadyDecided, CapacityExhausted, Conflict, NotAllowed
from workflows.kinds.base import StepKind, StepReader
from workflows.rules import PersonRule, is_eligible, resolve_unit
from workflows.state import ClaimGroup, Pool

if TYPE_CHECKING:
    from workflows.runtime import Action, Run
    from workflows.spec import StepSpec
    from workflows.state import Task


@dataclass(frozen=True)
class ClaimConfig:
    pool: PersonRule | None
    capacity: int = 1
    waitlist: bool = False


class ClaimKind(StepKind):
    name = "claim"
    label, label_en = "认领", "Claim"
    keys = frozenset({"pool", "capacity", "waitlist"})

    def parse(self, reader: StepReader) -> ClaimConfig:
        pool = reader.rule("pool", "pool") if reader.require("pool") is not None else None
        if pool is not None and pool.special in ("applicant", "claimer"):
            reader.bad("pool", f"a pool cannot be '{pool.special}'",
                       f"认领范围 pool 不能是 {pool.special}，请写明角色和范围")
            pool = None
        return ClaimConfig(pool, reader.count("capacity", 1), reader.flag("waitlist", False))

    def enter(self, run: Run, step: StepSpec) -> None:
        config: ClaimConfig = step.config
        group = run.claim
        if group is not None and group.step == step.id:
            for person in group.claimers:
                run.log("claim_released", step=step.id, claimer=person)
            run.notify(group.claimers, "released", None, step=step.id, step_name=step.name)
            group = replace(group, claimers=())
        else:
            group = ClaimGroup(step.id, config.capacity)
        run.set_claim(group)
        rule = config.pool
        unit = resolve_unit(rule.of or rule.within, run.rule_context()) \
            if (rule.of or rule.within) else None
        task = run.open_task(step, "claim", pool=Pool(rule.role, unit, rule.within is not None,
                                                      rule.special == "anyone"))
        promote_waiting(run, task)
        if len(run.claim.claimers) >= run.claim.capacity:
            _full(run, step, task)


def _full(run: Run, step: StepSpec, task: Task) -> None:
    run.close_task(task, "claimed")
    run.route(step, "done")


def promote_waiting(run: Run, task: Task | None) -> list:
    """Move people from the waiting list into free places; returns who moved."""
    group = run.claim
    moved = []
    while group.waitlist and len(group.claimers) < group.capacity:
        person = group.waitlist[0]
        group = replace(group, claimers=group.claimers + (person,), waitlist=group.waitlist[1:])
        moved.append(person)
        run.log("claim_promoted", step=group.step, task=task.id if task else None,
                claimer=person)
    run.set_claim(group)
    if moved:
        run.notify(moved, "promoted", task, priority="high")
    return moved


def claim_task(run: Run) -> Task | None:
    """The open pool task of the current claim step, if the instance is in one."""
    if run.claim is None:
        return None
    return next((t for t in run.open_tasks(run.claim.step) if t.kind == "claim"), None)


def permit_claim(run: Run) -> None:
    group = run.claim
    if group is None:
        raise NotAllowed("此事项当前不可认领", "Nothing can be claimed here now")
    step = run.step(group.step)
    if run.actor == run.applicant:
        raise NotAllowed("不能认领自己提交的事项", "You cannot claim your own request")
    if not is_eligible(step.config.pool, run.actor, run.rule_context()):
        raise NotAllowed(f"只有{step.config.pool.describe('zh')}可以认领",
                         f"Only {step.config.pool.describe('en')} may claim this")
    if run.actor in group.claimers:
        raise AlreadyDecided("您已认领", "You have already claimed this", code="already_yours")
    if run.actor in group.waitlist:
        raise AlreadyDecided("您已在候补名单中", "You are already on the waiting list",
                             code="already_waitlisted")
    if claim_task(run) is None and not (step.config.waitlist and _claimer_phase(run)):
        raise CapacityExhausted("已被他人认领", "Someone else has already claimed this",
                                code="already_claimed")


def _claimer_phase(run: Run) -> bool:
    """Whether the instance is in a step that belongs to the claimers."""
    for task in run.open_tasks():
        config = run.step(task.step).config
        rule = getattr(config, "assignee", None)
        if rule is not None and rule.special == "claimer":
            return True
    return False


def apply_claim(run: Run, action: Action) -> None:
    group = run.claim
    task = claim_task(run)
    if task is None:  # full: join the waiting list
        run.set_claim(replace(group, waitlist=group.waitlist + (run.actor,)))
        run.log("claim_waitlisted", step=group.step)
        return
    task = run.decide(task, "claim")
    run.update_task(task, claimed_by=task.claimed_by + (run.actor,))
    run.set_claim(replace(group, claimers=group.claimers + (run.actor,)))
    run.log("claim", step=group.step, task=task.id)
    run.notify([run.applicant], "claimed", task, claimer=run.actor)
    if len(run.claim.claimers) >= group.capacity:
        _full(run, run.step(group.step), run.tasks[task.id])


def permit_unclaim(run: Run) -> None:
    group = run.claim
    if group is None or (run.actor not in group.claimers and run.actor not in group.waitlist):
        raise NotAllowed("您没有认领此事项", "You have not claimed this")
    if run.actor in group.claimers and claim_task(run) is None and not _claimer_phase(run):
        raise Conflict("认领已完成，不能取消", "The claimed work is already done",
                       code="claim_finished")


def apply_unclaim(run: Run, action: Action) -> None:
    group = run.claim
    reason = (action.comment or "").strip() or None
    if run.actor in group.waitlist:
        run.set_claim(replace(group, waitlist=tuple(p for p in group.waitlist if p != run.actor)))
        run.log("unclaim", step=group.step, comment=reason, waitlist=True)
        return
    run.set_claim(replace(group, claimers=tuple(p for p in group.claimers if p != run.actor)))
    run.log("unclaim", step=group.step, comment=reason)
    run.notify([run.applicant], "released", None, step=group.step)
    pool_task = claim_task(run)
    if pool_task is not None:  # still collecting claims: just free the place
        run.update_task(pool_task, claimed_by=tuple(p for p in pool_task.claimed_by
                                                    if p != run.actor))
        return
    held = [t for t in run.open_tasks() if run.actor in t.assignees]
    # Those moved up are told once ("promoted", naming the task they now share), not
    # also "you have a task" for the same place.
    moved = promote_waiting(run, held[0] if held else None)
    for task in held:
        people = tuple(p for p in task.assignees if p != run.actor) + tuple(moved)
        if people:
            run.update_task(task, assignees=people)
        else:
            run.close_task(task, "released")
            run.goto(group.step)
            return
