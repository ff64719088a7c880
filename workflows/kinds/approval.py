"""``approval``: people found by a rule approve, reject or return for revision.

Modes: ``single`` (the first decision of any approver decides), ``any_of`` (one
approval is enough; all must reject to reject), ``all_of`` (all must approve; one
rejection rejects), ``n_of_m`` (``n`` approvals; rejected once ``n`` can no longer be
reached).  A return by any approver returns at once.  Someone brought in by SLA
escalation is no extra vote: their approve or reject decides the step on its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workflows.errors import InvalidInput, NotAllowed
from workflows.kinds.base import StepKind, StepReader
from workflows.kinds.common import (checked_form, comment_of, require_assignee,
                                    require_undecided)
from workflows.problems import ProblemLog
from workflows.rules import PersonRule

if TYPE_CHECKING:
    from workflows.runtime import Action, Run
    from workflows.spec import ProcessSpec, StepSpec
    from workflows.state import Task

MODES = ("single", "any_of", "all_of", "n_of_m")
ACTIONS = ("approve", "reject", "return")
APPLICANT = "applicant"


@dataclass(frozen=True)
class ApprovalConfig:
    approvers: PersonRule | None
    mode: str = "single"
    n: int | None = None
    actions: tuple[str, ...] = ACTIONS
    return_to: tuple[str, ...] = (APPLICANT,)


class ApprovalKind(StepKind):
    name = "approval"
    label, label_en = "审批", "Approval"
    keys = frozenset({"approvers", "mode", "n", "actions", "return_to"})
    outcomes = ("approve", "reject")
    required_outcomes = ("approve",)
    task_actions = frozenset(ACTIONS)

    def parse(self, reader: StepReader) -> ApprovalConfig:
        rule = reader.rule("approvers", "assignee") if reader.require("approvers") else None
        if rule is not None and rule.special in ("anyone", "claimer", APPLICANT):
            # The applicant would approve their own request (回避): never an approver.
            own, own_zh = ((" (nobody approves their own request)", "（没有人能审批自己的申请）")
                           if rule.special == APPLICANT else ("", ""))
            reader.bad("approvers", f"approvers cannot be '{rule.special}'{own}; name a role "
                       "and whose it is, e.g. {role: unit_admin, of: applicant}",
                       f"审批人不能是 {rule.special}{own_zh}，请写明角色和所属单位，"
                       "如 {role: unit_admin, of: applicant}")
            rule = None
        mode = reader.raw.get("mode", "single")
        if mode not in MODES:
            reader.bad("mode", f"unknown approval mode {mode!r} (known: {', '.join(MODES)})",
                       f"不认识的审批方式“{mode}”（可用：{'、'.join(MODES)}）")
            mode = "single"
        n = None
        if mode == "n_of_m":
            n = reader.count("n", 0) if "n" in reader.raw else None
            if n is None:
                reader.bad("mode", "mode n_of_m needs n (how many approvals are enough)",
                           "审批方式 n_of_m 要写 n（几人同意即可通过）")
        elif "n" in reader.raw:
            reader.bad("n", "'n' only applies to mode n_of_m", "只有审批方式 n_of_m 才用 n")
        actions = self._actions(reader)
        return_to = self._return_to(reader) if "return" in actions else ()
        return ApprovalConfig(rule, mode, n or None, actions, return_to)

    def _actions(self, reader: StepReader) -> tuple[str, ...]:
        raw = reader.raw.get("actions", list(ACTIONS))
        if not isinstance(raw, list) or not raw:
            reader.bad("actions", "'actions' must list some of approve, reject, return",
                       "actions 应列出 approve（同意）、reject（不同意）、return（退回）中的几项")
            return ACTIONS
        unknown = [a for a in raw if a not in ACTIONS]
        if unknown:
            reader.bad("actions", f"unknown approval action(s) {', '.join(map(str, unknown))} "
                       f"(known: {', '.join(ACTIONS)})",
                       f"不认识的审批操作：{'、'.join(map(str, unknown))}"
                       f"（可用：{'、'.join(ACTIONS)}）")
        if "approve" not in raw:
            reader.bad("actions", "an approval step must allow approve",
                       "审批环节必须允许 approve（同意）")
        return tuple(a for a in ACTIONS if a in raw)

    def _return_to(self, reader: StepReader) -> tuple[str, ...]:
        raw = reader.raw.get("return_to", [APPLICANT])
        raw = [raw] if isinstance(raw, str) else raw
        if not isinstance(raw, list) or not raw or not all(isinstance(r, str) for r in raw):
            reader.bad("return_to", "'return_to' must list applicant and/or earlier step ids",
                       "return_to 应列出 applicant（申请人）和/或前面环节的 id")
            return (APPLICANT,)
        return tuple(raw)

    def default_targets(self, step: StepSpec, spec: ProcessSpec) -> dict[str, str]:
        # Leaving out "reject" means: end as rejected, when the definition has one such end.
        rejected = [e.id for e in spec.ends if e.status == "rejected"]
        if "reject" in step.config.actions and len(rejected) == 1:
            return {"reject": rejected[0]}
        return {}

    def targets(self, step: StepSpec) -> dict[str, str]:
        out = dict(step.next)
        for target in step.config.return_to:
            if target != APPLICANT:
                out[f"return:{target}"] = target
        return out

    def check(self, step: StepSpec, spec: ProcessSpec, log: ProblemLog) -> None:
        config: ApprovalConfig = step.config
        if "reject" in config.actions and "reject" not in step.next:
            log.add(step.line, f"step '{step.id}': say where reject goes (next: {{reject: ...}}) "
                    "or add one end with status rejected",
                    f"环节“{step.id}”：请写明不同意（reject）之后去哪里（next: {{reject: …}}），"
                    "或添加一个状态为 rejected 的结束")
        for target in config.return_to:
            if target == APPLICANT:
                continue
            if spec.step(target) is None:
                log.add(step.line, f"step '{step.id}': return_to '{target}' is not a step",
                        f"环节“{step.id}”：return_to 里的“{target}”不是一个环节")
            elif target == step.id or step.id not in _reachable(spec, target):
                log.add(step.line, f"step '{step.id}': return_to '{target}' is not a step "
                        "that comes before it",
                        f"环节“{step.id}”：return_to 里的“{target}”不在本环节之前，只能退回到前面的环节")

    # ---------------------------------------------------------------- runtime
    def enter(self, run: Run, step: StepSpec) -> None:
        rule = step.config.approvers
        run.open_task(step, "approval", assignees=run.handlers(step, rule),
                      rule=rule.describe("en"))

    def permit(self, run: Run, step: StepSpec, task: Task, action: Action) -> None:
        if action.kind not in step.config.actions:
            raise NotAllowed("此步骤不允许该操作", f"This step does not allow '{action.kind}'")
        require_assignee(run, task)
        require_undecided(run, task)

    def apply(self, run: Run, step: StepSpec, task: Task, action: Action) -> None:
        if action.kind == "return":
            self._return(run, step, task, action)
            return
        comment = comment_of(action, required=action.kind == "reject",
                             what_zh="驳回理由", what_en="a reason for rejecting")
        changes = {}
        if action.kind == "approve":
            changes = run.merge_data(checked_form(run, step.form, action.data))
        task = run.decide(task, action.kind, comment)
        # An escalation target decides for the step: the history says so.
        run.log(action.kind, step=step.id, task=task.id, comment=comment, changes=changes,
                escalated=True if run.actor in task.escalated else None)
        verdict = tally(step.config, task)
        if verdict is not None:
            run.close_task(task, verdict)
            run.route(step, verdict)

    def _return(self, run: Run, step: StepSpec, task: Task, action: Action) -> None:
        comment = comment_of(action, required=True, what_zh="退回理由",
                             what_en="a reason for returning")
        target = action.to or step.config.return_to[0]
        if target not in step.config.return_to:
            raise InvalidInput("不能退回到该步骤", f"This step cannot return to '{target}'",
                               code="bad_return_target",
                               field_errors={"to": [("不能退回到该步骤",
                                                     f"This step cannot return to '{target}'")]})
        task = run.decide(task, "return", comment)
        run.log("return", step=step.id, task=task.id, comment=comment, to=target)
        run.close_task(task, "return")
        if target != APPLICANT:
            run.return_note = comment  # those who redo the step are told why
            try:
                run.goto(target)
            finally:
                run.return_note = None
            return
        run.status = "returned"
        revise = run.open_task(step, "revise", assignees=[run.applicant], main=False)
        run.notify([run.applicant], "returned", revise, comment=comment, priority="high")


def tally(config: ApprovalConfig, task: Task) -> str | None:
    """"approve", "reject" or None (still waiting) from the decisions so far.

    People brought in by escalation are not extra votes: the first of them to approve
    or reject decides for the whole step, whatever the mode.  The mode counts only the
    step's own approvers.
    """
    escalated = set(task.escalated)
    for decision in task.decisions:
        if decision.by in escalated and decision.action in ("approve", "reject"):
            return decision.action
    own = [d for d in task.decisions if d.by not in escalated]
    approvals = sum(1 for d in own if d.action == "approve")
    rejections = sum(1 for d in own if d.action == "reject")
    total = max(sum(1 for p in task.assignees if p not in escalated), 1)
    if config.mode == "single":
        return "approve" if approvals else "reject" if rejections else None
    if config.mode == "any_of":
        return "approve" if approvals else "reject" if rejections >= total else None
    if config.mode == "all_of":
        return "reject" if rejections else "approve" if approvals >= total else None
    needed = config.n or 1
    if approvals >= needed:
        return "approve"
    # Only a rejection can make n unreachable: fewer approvers than n may still grow by
    # reassignment (and escalation may decide outright).
    return "reject" if rejections and total - rejections < needed else None


def _reachable(spec: ProcessSpec, start: str) -> set[str]:
    from workflows.graph import reachable_from
    return reachable_from(spec, start, include_returns=False)
