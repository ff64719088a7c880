"""``approval``: people found by a rule approve, reject or return for revision.

Modes: ``single`` (the first decision of any approver decides), ``any_of`` (one
approval is enough; all must reject to reject), ``all_of`` (all must approve; one
rejection rejects), ``n_of_m`` (``n`` approvals; rejected once ``n`` can no longer be
reached).  A return by any approver returns at once.  Someone brought in by SLA
escalation is no extra vote: their approve or reject decides the step on its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

from workflows.errors import InvalidInput, NotAllowed
from workflows.fields import FormSpec
from workflows.kinds.base import StepKind, StepReader
from workflows.kinds.common import (checked_form, comment_of, require_assignee,
                                    require_undecided)
from workflows.problems import ProblemLog
from workflows.rules import PersonRule
from workflows.yamlio import line_of

if TYPE_CHECKING:
    from workflows.runtime import Action, Run
    from workflows.spec import ProcessSpec, StepSpec
    from workflows.state import Task

MODES = ("single", "any_of", "all_of", "n_of_m")
ACTIONS = ("approve", "reject", "return")
FORM_ACTIONS = ("approve", "reject")  # a return sends the request back: it takes no form
APPLICANT = "applicant"
ACTIONS_ZH = {"approve": "同意", "reject": "不同意", "return": "退回"}


@dataclass(frozen=True)
class ApprovalConfig:
    approvers: PersonRule | None
    mode: str = "single"
    n: int | None = None
    actions: tuple[str, ...] = ACTIONS
    return_to: tuple[str, ...] = (APPLICANT,)
    # The actions that send the step's form (checked, kept, in the history line).
    form_on: tuple[str, ...] = ("approve",)
    # What the step's buttons say instead of 通过 / 驳回 / 退回: {action: (label, label_en)}.
    # An objection review's 驳回 ends the nomination, which a reviewer may read as
    # "reject the objection": the definition words each decision as what it does.
    action_labels: Mapping[str, tuple[str, str | None]] = dataclass_field(
        default_factory=lambda: MappingProxyType({}))
    # A field of the step's form whose text is the decision's reason when no comment is
    # given (the finding that upholds an objection): not asked twice.
    reason_field: str | None = None

    def action_label(self, action: str, locale: str = "zh") -> str | None:
        """The definition's words for ``action`` in ``locale``, or None (the usual ones)."""
        words = self.action_labels.get(action)
        if words is None:
            return None
        return words[1] if str(locale).startswith("en") and words[1] else words[0]


class ApprovalKind(StepKind):
    name = "approval"
    label, label_en = "审批", "Approval"
    keys = frozenset({"approvers", "mode", "n", "actions", "return_to", "form_on",
                      "action_labels", "reason_field"})
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
        return ApprovalConfig(rule, mode, n or None, actions, return_to,
                              self._form_on(reader, actions),
                              MappingProxyType(self._action_labels(reader, actions)),
                              self._reason_field(reader))

    def _action_labels(self, reader: StepReader, actions: tuple[str, ...]
                       ) -> dict[str, tuple[str, str | None]]:
        raw = reader.raw.get("action_labels")
        if raw is None:
            return {}
        if not isinstance(raw, dict) or not raw:
            reader.bad("action_labels", "'action_labels' must map some of the step's actions "
                       "to {label, label_en}, e.g. {reject: {label: 异议成立，取消推荐}}",
                       "action_labels 应为本环节的操作各写一组 {label, label_en}，"
                       "如 {reject: {label: 异议成立，取消推荐}}")
            return {}
        out = {}
        for action, words in raw.items():
            where = reader.at("action_labels").then(str(action), f"里的 {action}")
            line = line_of(raw, action) or reader.line("action_labels")
            if action not in actions:
                known = ", ".join(actions)
                reader.log.add(line, f"{where}: '{action}' is not one of the step's actions "
                               f"({known})",
                               f"{where.zh}：“{action}”不是本环节允许的操作"
                               f"（actions：{'、'.join(actions)}）")
                continue
            if isinstance(words, str):
                words = {"label": words}
            label = words.get("label") if isinstance(words, dict) else None
            label_en = words.get("label_en") if isinstance(words, dict) else None
            unknown = sorted(set(words) - {"label", "label_en"}) if isinstance(words, dict) else []
            if unknown:
                reader.log.add(line, f"{where}: unknown key(s) {', '.join(map(str, unknown))} "
                               "(known: label, label_en)",
                               f"{where.zh}：不认识的设置项“{'、'.join(map(str, unknown))}”"
                               "（可用：label、label_en）")
            if not isinstance(label, str) or not label.strip():
                reader.log.add(line, f"{where}: 'label' is required: the words on the button",
                               f"{where.zh}：必须写 label（按钮上显示的文字）")
                continue
            if label_en is not None and (not isinstance(label_en, str) or not label_en.strip()):
                reader.log.add(line, f"{where}: 'label_en' must be text",
                               f"{where.zh}：label_en 应是一段文字")
                label_en = None
            out[action] = (label.strip(), label_en.strip() if label_en else None)
        return out

    def _reason_field(self, reader: StepReader) -> str | None:
        raw = reader.raw.get("reason_field")
        if raw is None:
            return None
        if not isinstance(raw, str) or not raw.strip():
            reader.bad("reason_field", "'reason_field' must name a field of the step's form",
                       "reason_field 应写本环节表单中的一个字段名")
            return None
        return raw.strip()

    def _form_on(self, reader: StepReader, actions: tuple[str, ...]) -> tuple[str, ...]:
        raw = reader.raw.get("form_on", ["approve"])
        if not isinstance(raw, list) or not raw or not all(isinstance(a, str) for a in raw):
            reader.bad("form_on", "'form_on' must list the actions that send the step's form: "
                       "approve and/or reject",
                       "form_on 应列出提交本环节表单的操作：approve（同意）和/或 reject（不同意）")
            return ("approve",)
        for action in dict.fromkeys(raw):
            problem = _not_a_form_action(action, actions)
            if problem:
                en, zh = problem
                reader.bad("form_on", f"'form_on': {en}", f"form_on：{zh}")
        return tuple(a for a in FORM_ACTIONS if a in raw and a in actions) or ("approve",)

    def form_actions(self, step: StepSpec) -> tuple[str, ...]:
        return step.config.form_on

    def step_form(self, form: FormSpec, config: Any, reader: StepReader) -> FormSpec:
        """Check each ``required: [actions]`` against ``form_on``; a list naming every
        action that sends the form is plain ``required: true``."""
        if "form_on" in reader.raw and not form.fields:
            reader.bad("form_on", "'form_on' names the actions that send the step's form, "
                       "but the step has no form",
                       "写了 form_on（哪些操作提交表单），但本环节没有表单（form）")
        fields = []
        for field in form.fields:
            if field.required_on:
                where = reader.where.then(f"form field '{field.name}'",
                                          f"表单的字段“{field.name}”")
                for action in field.required_on:
                    problem = _not_a_form_action(action, config.actions, config.form_on)
                    if problem:
                        en, zh = problem
                        reader.log.add(field.line, f"{where}: 'required': {en}",
                                       f"{where.zh}：required：{zh}")
                on = tuple(a for a in config.form_on if a in field.required_on)
                field = replace(field, required=set(on) == set(config.form_on),
                                required_on=() if set(on) == set(config.form_on) else on)
            fields.append(field)
        form = replace(form, fields=tuple(fields))
        self._check_reason_field(form, config, reader)
        return form

    def _check_reason_field(self, form: FormSpec, config: Any, reader: StepReader) -> None:
        """``reason_field`` must be a field of the form that a rejection sends and needs:
        a rejection without a reason is refused, so its reason must never be missing."""
        name = config.reason_field
        if name is None:
            return
        found = form.field(name)
        if found is None:
            known = ", ".join(f.name for f in form.fields) or "none"
            reader.bad("reason_field", f"'reason_field': '{name}' is not a field of the step's "
                       f"form (its fields: {known})",
                       f"reason_field：“{name}”不是本环节表单中的字段"
                       f"（表单字段：{'、'.join(f.name for f in form.fields) or '无'}）")
        elif "reject" not in config.actions:
            reader.bad("reason_field", "'reason_field' gives a rejection its reason, but the "
                       "step does not allow reject",
                       "reason_field 用作不同意（reject）的理由，但本环节不允许 reject")
        elif "reject" not in config.form_on or not found.required_for("reject"):
            reader.bad("reason_field", f"'reason_field': '{name}' must be sent and required "
                       "with reject (form_on lists reject; the field is required: true or "
                       "required: [reject])",
                       f"reason_field：“{name}”须随不同意（reject）提交且必填"
                       "（form_on 含 reject，字段 required: true 或 required: [reject]）")

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
            _no_form_data(step, action)
            self._return(run, step, task, action)
            return
        comment, cleaned = _comment_and_form(run, step, action)
        changes = run.merge_data(cleaned) if cleaned else {}
        task = run.decide(task, action.kind, comment)
        # An escalation target decides for the step: the history says so.
        run.log(action.kind, step=step.id, task=task.id, comment=comment, changes=changes,
                escalated=True if run.actor in task.escalated else None)
        verdict = tally(step.config, task)
        if verdict is not None:
            run.close_task(task, verdict)
            tell_objectors(run, step, verdict)
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


def tell_objectors(run: Run, step: StepSpec, verdict: str) -> None:
    """An approval reached because people objected to a public notice (the target of a
    publicity step's ``objected``) reviews their objections: each objector hears the
    result — upheld (rejected: the request ends) or not (approved: it goes on) — and no
    more than the notice told them (not the finding, not the reviewer)."""
    from workflows.kinds.publicity import objectors_of

    objectors = objectors_of(run, step)
    if objectors:
        run.notify(objectors, "objection_reviewed", None,
                   result="upheld" if verdict == "reject" else "not_upheld")


def _comment_and_form(run: Run, step: StepSpec, action: Action) -> tuple[str | None, dict]:
    """The decision's comment (a reject needs one) and, when the action sends the
    step's form, its cleaned data — checked together, so a reviewer who left out both
    the reason and a required finding is told of both at once."""
    failed: list[InvalidInput] = []
    comment, cleaned = None, {}
    # With a ``reason_field`` the form (checked below) carries a rejection's reason.
    reason_field = step.config.reason_field if action.kind in step.config.form_on else None
    try:
        comment = comment_of(action, required=action.kind == "reject" and not reason_field,
                             what_zh="驳回理由", what_en="a reason for rejecting")
    except InvalidInput as exc:
        failed.append(exc)
    try:
        if action.kind in step.config.form_on:
            cleaned = checked_form(run, step.form.for_action(action.kind), action.data)
        else:
            _no_form_data(step, action)
    except InvalidInput as exc:
        failed.append(exc)
    if len(failed) == 1:
        raise failed[0]
    if failed:
        raise InvalidInput(field_errors={name: messages for exc in failed
                                         for name, messages in exc.field_errors.items()})
    if comment is None and reason_field and isinstance(cleaned.get(reason_field), str):
        comment = cleaned[reason_field].strip() or None
    return comment, cleaned


def _no_form_data(step: StepSpec, action: Action) -> None:
    """Refuse form data sent with an action that does not send the step's form: it
    would be dropped without a word."""
    if action.data:
        raise InvalidInput("此操作不接受表单数据", "This action takes no form data",
                           code="no_form_data",
                           field_errors={"data": [("此操作不接受表单数据",
                                                   "This action takes no form data")]})


def _not_a_form_action(action: str, actions: tuple[str, ...],
                       form_on: tuple[str, ...] | None = None) -> tuple[str, str] | None:
    """Why ``action`` cannot send the step's form, (English, Chinese), or None."""
    if action == "return":
        return ("'return' takes no form: it sends the request back to be changed",
                "退回（return）不提交表单：它把申请退回去修改")
    if action not in FORM_ACTIONS:
        return (f"unknown action '{action}' (the form goes with approve and/or reject)",
                f"不认识的操作“{action}”（表单只能随 approve（同意）和/或 reject（不同意）提交）")
    if action not in actions:
        return (f"'{action}' is not one of the step's actions ({', '.join(actions)})",
                f"“{action}”不是本环节允许的操作（actions：{'、'.join(actions)}）")
    if form_on is not None and action not in form_on:
        return (f"'{action}' does not send the form (form_on: {', '.join(form_on)}); "
                "add it to form_on",
                f"{ACTIONS_ZH[action]}（{action}）不提交表单（form_on：{'、'.join(form_on)}），"
                "请把它加进 form_on")
    return None


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
