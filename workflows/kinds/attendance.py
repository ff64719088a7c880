"""``attendance``: decide completion from the attendance kept in a register.

The register (e.g. ``course:{form.course}``, a template like a reserve step's resource)
is kept outside the engine — the web layer's grid of trainees × sessions — and read
through the directory's ``attendance`` port.  The assignee confirms with ``complete``;
the engine counts, never trusts a typed-in number: at least ``pass_rate`` per cent of
the sessions attended goes ``next.passed``, else ``next.failed``.  The counts are kept
in the instance's data under the step's id (``{attended, total, rate}``).

A judgement may be made again after the request ended (``correctable``;
``workflows.correction``): a register kept wrongly is put right, and ``rejudge`` counts
it again the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workflows.errors import InvalidInput, StateError
from workflows.kinds.base import StepReader
from workflows.kinds.common import checked_form
from workflows.kinds.task import TaskKind
from workflows.problems import ProblemLog
from workflows.rules import PersonRule
from workflows.spec import Template

if TYPE_CHECKING:
    from workflows.runtime import Action, Run
    from workflows.spec import ProcessSpec, StepSpec
    from workflows.state import Task

DEFAULT_PASS_RATE = 80


@dataclass(frozen=True)
class AttendanceConfig:
    assignee: PersonRule | None
    register: Template | None
    pass_rate: int = DEFAULT_PASS_RATE


class AttendanceKind(TaskKind):
    """A task (same assignment and permission) whose completion the register decides."""

    name = "attendance"
    label, label_en = "出勤判定", "Attendance"
    keys = frozenset({"assignee", "register", "pass_rate"})
    outcomes = ("passed", "failed")
    required_outcomes = ("passed", "failed")
    outcome_labels = {"passed": ("结业合格", "Course passed"),
                      "failed": ("出勤不足", "Too little attendance")}
    task_actions = frozenset({"complete"})
    correctable = True  # judged again from a corrected register: workflows.correction

    def parse(self, reader: StepReader) -> AttendanceConfig:
        rule = None
        if reader.require("assignee") is not None:
            rule = reader.rule("assignee", "assignee")
            # The applicant confirming would judge their own completion (回避).
            if rule is not None and rule.special in ("anyone", "claimer", "applicant"):
                reader.bad("assignee", "attendance is confirmed by named people other than "
                           "the applicant, e.g. {role: unit_admin, of: record.course.unit}",
                           "出勤要由申请人以外的明确的人确认，"
                           "如 {role: unit_admin, of: record.course.unit}")
                rule = None
        register = reader.template("register") if reader.require("register") is not None else None
        rate = reader.raw.get("pass_rate", DEFAULT_PASS_RATE)
        if isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= 100:
            reader.bad("pass_rate", "'pass_rate' must be a whole percentage from 1 to 100",
                       "pass_rate（合格出勤率）应是 1 到 100 之间的整数")
            rate = DEFAULT_PASS_RATE
        return AttendanceConfig(rule, register, rate)

    def check(self, step: StepSpec, spec: ProcessSpec, log: ProblemLog) -> None:
        if step.id in spec.fields:
            log.add(step.line, f"step '{step.id}': a field has the same name; the counts "
                    "are kept under the step's id",
                    f"环节“{step.id}”：有一个字段与本环节同名；出勤统计要以环节 id 保存，请改名")

    def apply(self, run: Run, step: StepSpec, task: Task, action: Action) -> None:
        cleaned = checked_form(run, step.form, action.data)
        attended, total = counts(run, step)
        rate = round(attended * 100 / total)
        passed = attended * 100 >= step.config.pass_rate * total
        changes = run.merge_data({**cleaned, step.id: {"attended": attended, "total": total,
                                                       "rate": rate}})
        task = run.decide(task, "complete", (action.comment or "").strip() or None)
        run.log("complete", step=step.id, task=task.id, comment=(action.comment or None),
                changes=changes, attended=attended, total=total,
                pass_rate=step.config.pass_rate)
        outcome = "passed" if passed else "failed"
        run.close_task(task, outcome)
        run.route(step, outcome)


    def rejudge(self, run: Run, step: StepSpec, task: Task
                ) -> tuple[str, dict, dict]:
        """(outcome, data to store, history details) from the register as it is now."""
        attended, total = counts(run, step)
        result = {"attended": attended, "total": total,
                  "rate": round(attended * 100 / total)}
        passed = attended * 100 >= step.config.pass_rate * total
        changes = {} if run.data.get(step.id) == result else {step.id: result}
        return ("passed" if passed else "failed"), changes, {
            "attended": attended, "total": total, "pass_rate": step.config.pass_rate}

    def disagreement(self, step: StepSpec, judged: str, details: dict) -> tuple[str, str]:
        """Why the register does not support the result asked for."""
        a, t, rate = details["attended"], details["total"], details["pass_rate"]
        if judged == "passed":
            return (f"按出勤登记，到课 {a}/{t} 次，已达到结业要求（{rate}%）；"
                    "如要更正为未结业，请先更正出勤",
                    f"By the register {a} of {t} sessions were attended, which reaches the "
                    f"pass rate ({rate}%); correct the register first to record a fail")
        return (f"按出勤登记，到课 {a}/{t} 次，未达到结业要求（{rate}%）；"
                "如要更正为结业，请先更正出勤",
                f"By the register {a} of {t} sessions were attended, short of the pass "
                f"rate ({rate}%); correct the register first to record a pass")


def register_key(run: Run, step: StepSpec) -> str:
    key = step.config.register.render(run.lookup_name)
    if key is None:
        raise InvalidInput("表单未说明出勤登记簿", "The form does not say which register to read",
                           code="no_register")
    return key


def counts(run: Run, step: StepSpec) -> tuple[int, int]:
    """(sessions attended, sessions held) from the register; refuses an empty register."""
    found = run.directory.attendance(register_key(run, step), run.instance)
    if found is None:
        found = (0, 0)
    attended, total = found
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in found) \
            or attended > total:
        raise StateError(en=f"the attendance port answered {found!r}")
    if total == 0:
        raise InvalidInput("还没有任何课次，无法判定出勤", "There are no sessions to count yet",
                           code="no_sessions")
    return attended, total
