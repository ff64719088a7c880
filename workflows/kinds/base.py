"""The contract of a step kind, and the reader kinds use to parse their YAML keys.

Adding a kind is one subclass of ``StepKind`` plus ``register(...)`` in
``workflows.kinds``: it names its extra YAML keys and outcomes, parses its settings
into a frozen config, says where it can go (for the validator and the diagram), and
handles entering the step, its task actions and its ``wait`` timer.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from workflows import expr
from workflows.durations import BadDuration, Duration, parse_duration
from workflows.errors import ExpressionError, NotAllowed
from workflows.fields import FieldSpec, FormSpec, choice_problems
from workflows.problems import ProblemLog, Where, step_where
from workflows.rules import PersonRule, parse_rule, record_source
from workflows.spec import Template
from workflows.yamlio import line_of

if TYPE_CHECKING:
    from workflows.runtime import Action, Run
    from workflows.spec import ProcessSpec, StepSpec
    from workflows.state import Task


class StepReader:
    """Reads one step's mapping, logging every problem with its line."""

    def __init__(self, raw: Mapping[str, Any], log: ProblemLog, step_id: str, kind: str,
                 fields: Mapping[str, FieldSpec], step_line: int | None = None):
        self.raw, self.log, self.step_id, self.kind, self.fields = raw, log, step_id, kind, fields
        self.where: Where = step_where(step_id)
        self.step_line = step_line
        # Set by the loader: (the step whose data these readings need, "" for the start;
        # the list each reading of a form field is added to, as (step, name, line, where)),
        # so it can refuse a field not asked yet at that point.
        self.uses: tuple[str, list] | None = None

    def used(self, names: Any, line: int | None, where: Where) -> None:
        """Note the form fields that ``names`` (dotted: form.x, record.x.attr) read."""
        if self.uses is None:
            return
        context, found = self.uses
        for name in sorted(names):
            parts = name.split(".")
            if parts[0] in ("form", "record") and len(parts) >= 2 and parts[1] in self.fields:
                found.append((context, name, parts[1], line, where))

    def used_rule(self, rule: PersonRule | None, line: int | None, where: Where) -> None:
        """Note the form field a person rule's unit is read from, if any."""
        ref = None if rule is None else (rule.of or rule.within)
        if ref is not None and ref.base in ("form", "record"):
            self.used([f"{ref.base}.{ref.arg}"], line, where)

    def line(self, key: str | None = None) -> int | None:
        """The line of ``key``; without a key, the line naming the step."""
        if key is None:
            return self.step_line or line_of(self.raw)
        return line_of(self.raw, key)

    def bad(self, key: str | None, message: str, message_zh: str) -> None:
        """Log a problem at ``key`` (the step's line without one), in both languages."""
        self.log.add(self.line(key), f"{self.where}: {message}",
                     f"{self.where.zh}：{message_zh}")

    def require(self, key: str) -> Any:
        if key not in self.raw:
            from workflows.kinds import lookup  # the registry imports this module

            kind = lookup(self.kind)
            label = f"{kind.label}环节" if kind is not None else "这类环节"
            self.bad(None, f"{self.kind} steps need '{key}'", f"{label}必须写 {key}")
        return self.raw.get(key)

    def at(self, key: str, zh: str | None = None) -> Where:
        """The place of one of the step's keys: ``step 'v' approvers``."""
        return self.where.then(key, zh or f"的 {key}")

    def rule(self, key: str, purpose: str, raw: Any = None) -> PersonRule | None:
        value = self.raw.get(key) if raw is None else raw
        rule = parse_rule(value, self.log, self.at(key), self.line(key),
                          fields=self.fields, purpose=purpose)
        self.used_rule(rule, self.line(key), self.at(key))
        return rule

    def duration(self, key: str, raw: Any = None, line: int | None = None) -> Duration | None:
        value = self.raw.get(key) if raw is None else raw
        try:
            return parse_duration(value)
        except BadDuration as exc:
            where = self.at(key)
            self.log.add(line or self.line(key), f"{where}: {exc}", f"{where.zh}：{exc.zh}")
            return None

    def count(self, key: str, default: int, least: int = 1) -> int:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            self.bad(key, f"'{key}' must be a whole number of at least {least}",
                     f"{key} 应是不小于 {least} 的整数")
            return default
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            self.bad(key, f"'{key}' must be true or false", f"{key} 应为 true 或 false")
            return default
        return value

    def text(self, key: str) -> str | None:
        """An optional text the step shows people (a message), or None if not given."""
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.bad(key, f"'{key}' must be text", f"{key} 应是一段文字")
            return None
        return value.strip()

    def expression(self, raw: Any, line: int | None, what: str,
                   what_zh: str | None = None) -> expr.Expr | None:
        try:
            parsed = expr.parse(raw)
        except ExpressionError as exc:
            where = self.at(what, what_zh)
            self.log.add(line, f"{where}: {exc.message('en')}",
                         f"{where.zh}：{expr.problem_zh(exc)}")
            return None
        self.check_names(parsed.names(), line, what, what_zh)
        where = self.at(what, what_zh)
        for en, zh in choice_problems(parsed, self.fields):
            self.log.add(line, f"{where}: {en}", f"{where.zh}：{zh}")
        return parsed

    def check_names(self, names: Any, line: int | None, what: str,
                    what_zh: str | None = None) -> None:
        where = self.at(what, what_zh)
        self.used(names, line, where)
        for name in sorted(names):
            problem = unknown_name(name, self.fields)
            if problem:
                self.log.add(line, f"{where}: {problem[0]}", f"{where.zh}：{problem[1]}")

    def template(self, key: str) -> Template | None:
        value = self.raw.get(key)
        if not isinstance(value, str) or not value.strip():
            self.bad(key, f"'{key}' must be text like course:{{form.course}}",
                     f"{key} 应是一段文字，如 course:{{form.course}}")
            return None
        template = Template(value.strip())
        self.check_names(template.names(), self.line(key), key)
        return template


def refuse_required_on(form: FormSpec, where: Where, log: ProblemLog) -> None:
    """Log each field of ``form`` whose ``required`` lists actions: only an approval
    step's form is sent by more than one action."""
    for field in form.fields:
        if field.required_on:
            place = where.then(f"field '{field.name}'", f"的字段“{field.name}”")
            log.add(field.line, f"{place}: 'required' can list actions only in an approval "
                    "step's form (the actions its form_on names); write true or false",
                    f"{place.zh}：只有审批环节的表单才能在 required 里列出操作"
                    "（form_on 所列的操作）；这里请写 true 或 false")


def unknown_name(name: str, fields: Mapping[str, FieldSpec]) -> tuple[str, str] | None:
    """Why a dotted name in a condition cannot be resolved, (English, Chinese), or None
    if it can."""
    parts = name.split(".")
    head = parts[0]
    if head == "now" and len(parts) == 1:
        return None
    if head == "applicant" and (len(parts) == 1 or parts[1:] in (["id"], ["unit"])):
        return None
    if head == "form" and len(parts) >= 2:
        return None if parts[1] in fields else (
            f"refers to unknown field '{name}'", f"用到了不存在的字段“{name}”")
    if head == "record" and len(parts) >= 3:
        spec = fields.get(parts[1])
        if spec is not None and record_source(spec) is not None:
            return None
        return (f"'{name}': '{parts[1]}' is not a record, slot or station field",
                f"“{name}”：字段“{parts[1]}”不是记录（record）、值守时段（slot）或驿站（station）字段")
    return (f"refers to unknown name '{name}' (use form.<field>, record.<field>.<attribute>, "
            "applicant.id, applicant.unit or now)",
            f"用到了不认识的名称“{name}”（可用 form.字段、record.字段.属性、applicant.id、"
            "applicant.unit 或 now）")


class StepKind:
    """One kind of step.  Subclasses set the class attributes and override the hooks."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    label_en: ClassVar[str] = ""
    keys: ClassVar[frozenset[str]] = frozenset()      # extra YAML keys this kind reads
    outcomes: ClassVar[tuple[str, ...]] = ("done",)   # names usable in `next`
    required_outcomes: ClassVar[tuple[str, ...]] = ("done",)
    # How this kind's own outcomes read on a diagram, (zh, en), where the same word means
    # something else in another kind (a publicity's "passed" is not an attendance's).
    outcome_labels: ClassVar[dict[str, tuple[str, str]]] = {}
    task_actions: ClassVar[frozenset[str]] = frozenset()
    # Whether the end this kind's judgement led to may be corrected after the request
    # ended (``workflows.correction``); such a kind has ``rejudge`` and ``disagreement``.
    correctable: ClassVar[bool] = False

    def parse(self, reader: StepReader) -> Any:
        """The kind's frozen settings from the step mapping (problems go to the reader)."""
        return None

    def targets(self, step: StepSpec) -> dict[str, str]:
        """Label → target of every way out of the step (for validation and diagrams)."""
        return dict(step.next)

    def target_label(self, step: StepSpec, label: str, locale: str) -> str | None:
        """How a label of ``targets`` reads in ``locale``, when the step names it itself
        (a decision's branches); None: the diagram's own words for the outcome."""
        return None

    def form_actions(self, step: StepSpec) -> tuple[str, ...]:
        """The actions that send the step's form: its data is checked and kept with
        them, and refused with any other."""
        return ("complete",) if "complete" in self.task_actions else ()

    def step_form(self, form: FormSpec, config: Any, reader: StepReader) -> FormSpec:
        """The step's form as this kind takes it (problems go to the reader).  Only an
        approval step has more than one action sending its form, so by default no field
        may be required for some actions only."""
        refuse_required_on(form, reader.where.then("form", "的表单"), reader.log)
        return form

    def check(self, step: StepSpec, spec: ProcessSpec, log: ProblemLog) -> None:
        """Checks that need the whole definition (e.g. that return targets are earlier)."""

    def default_targets(self, step: StepSpec, spec: ProcessSpec) -> dict[str, str]:
        """Outcomes that may be left out of `next` because they have an obvious target."""
        return {}

    # ---------------------------------------------------------------- runtime hooks
    def enter(self, run: Run, step: StepSpec) -> None:
        raise NotImplementedError

    def permit(self, run: Run, step: StepSpec, task: Task, action: Action) -> None:
        """Raise if ``run.actor`` may not do ``action`` on ``task``."""
        raise NotAllowed("此步骤不支持该操作", f"A {self.name} step does not take '{action.kind}'")

    def apply(self, run: Run, step: StepSpec, task: Task, action: Action) -> None:
        raise NotImplementedError

    def retime(self, run: Run, step: StepSpec, task: Task) -> None:
        """The data the step's own timer was set from may have changed: set it again."""

    def fire(self, run: Run, step: StepSpec, task: Task) -> None:
        """The step's own ``wait`` timer fired."""
