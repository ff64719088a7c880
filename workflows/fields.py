"""Field specifications shared by the engine, the forms package and the JSON API.

A form section of a definition is either a list of fields or a mapping with ``fields``
and ``rules``.  ``parse_form`` turns it into a frozen ``FormSpec`` and a list of
``Problem`` (every problem at once, with lines when the data came from ``yamlio``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from workflows import expr
from workflows.errors import ExpressionError
from workflows.org import UNIT_KIND_KEYS
from workflows.problems import Problem, ProblemLog, Where
from workflows.yamlio import line_of

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class FieldType:
    """A field type: its name and the options a field of that type may set."""

    name: str
    options: frozenset[str]
    label: str = ""
    label_en: str = ""


COMMON_OPTIONS = frozenset({"name", "type", "label", "label_en", "required", "help", "help_en",
                            "private", "show_if", "default"})
_TEXT = frozenset({"min_length", "max_length", "pattern", "pattern_message",
                   "pattern_message_en"})
_RANGE = frozenset({"min", "max"})
# What a file field without ``accept`` takes: photos and PDF documents, the types the
# forms package can recognise by their bytes.
DEFAULT_ACCEPT: tuple[str, ...] = ("image/*", "application/pdf")
# The longest text a field without ``max_length`` takes (forms and engine alike):
# nobody's answer is longer, and unbounded text is a storage and display hazard.
DEFAULT_MAX_LENGTH: dict[str, int] = {"text": 200, "textarea": 5000}

FIELD_TYPES: dict[str, FieldType] = {}

# What a ``record`` field's ``source`` may name, (Chinese, English): the web layer lists,
# looks up and names each one's records (webapp.services.activities registers them, and a
# test holds the two lists together).  Another source is one more entry here and there.
RECORD_SOURCES: dict[str, tuple[str, str]] = {
    "course": ("培训课程", "training course"),
    "retreat_batch": ("疗休养批次", "retreat batch"),
    "slot": ("值守时段", "duty slot"),
}


def register_field_type(name: str, options: Iterable[str] = (), label: str = "",
                        label_en: str = "") -> FieldType:
    """Add a field type (its value check lives in ``workflows.values``)."""
    field_type = FieldType(name, COMMON_OPTIONS | frozenset(options), label, label_en)
    FIELD_TYPES[name] = field_type
    return field_type


for _name, _options, _zh, _en in (
    ("text", _TEXT, "单行文本", "Text"),
    ("textarea", frozenset({"min_length", "max_length"}), "多行文本", "Long text"),
    ("integer", _RANGE, "整数", "Whole number"),
    ("decimal", _RANGE | {"places"}, "数字", "Number"),
    ("date", _RANGE, "日期", "Date"),
    ("datetime", _RANGE, "日期时间", "Date and time"),
    ("choice", {"choices"}, "单选", "Choice"),
    ("multichoice", {"choices", "min", "max"}, "多选", "Multiple choice"),
    ("boolean", (), "是/否", "Yes / no"),
    ("phone", (), "手机号", "Mobile phone"),
    ("id_card", (), "身份证号", "ID card number"),
    ("email", (), "电子邮箱", "Email"),
    ("file", {"accept", "max_size", "max_files", "public"}, "附件", "File"),
    ("org_unit", {"unit_kinds", "within"}, "组织单位", "Organisation unit"),
    ("station", (), "工会驿站", "Rest station"),
    ("slot", (), "值守时段", "Duty slot"),
    # A row the web layer lists by name (a training course, a retreat batch); conditions
    # read its attributes as record.<field>.<attribute> through the directory.
    ("record", {"source"}, "业务记录", "Record"),
):
    register_field_type(_name, _options, _zh, _en)


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    label_en: str | None = None


# A bound that moves with the calendar: ``max: this_year`` on an integer (a year),
# ``max: today`` or ``min: today - 30`` on a date, with an offset in years or days.
_RELATIVE = re.compile(r"\s*(this_year|today)\s*(?:([+-])\s*([0-9]{1,4}))?\s*")
RELATIVE_BASES = {"integer": "this_year", "date": "today"}


@dataclass(frozen=True)
class Relative:
    """A field's ``min``/``max`` counted from the day a value is checked (on the union's
    calendar): ``this_year`` (± years) for a year, ``today`` (± days) for a date."""

    base: str
    offset: int = 0

    def on(self, today: date) -> int | str:
        """The bound on ``today``: a year, or a date as ISO text (how date bounds are kept)."""
        if self.base == "this_year":
            return today.year + self.offset
        return (today + timedelta(days=self.offset)).isoformat()

    def __str__(self) -> str:
        if not self.offset:
            return self.base
        return f"{self.base} {'+' if self.offset > 0 else '-'} {abs(self.offset)}"


def choice_problems(condition: expr.Expr, fields: Any) -> list[tuple[str, str]]:
    """(English, Chinese) for each constant a choice or multichoice field is compared
    with in ``condition`` that is not one of its values: such a comparison never holds
    (a typo, or the label written instead of the value).  ``fields``: name → FieldSpec."""
    problems = []
    for name, literals in condition.literal_comparisons():
        parts = name.split(".")
        field = fields.get(parts[1]) if len(parts) == 2 and parts[0] == "form" else None
        if field is None or field.type not in ("choice", "multichoice") or not field.choices:
            continue
        values = [c.value for c in field.choices]
        for literal in literals:
            if any(expr.equal(literal, value) for value in values):
                continue
            labelled = next((c for c in field.choices
                             if literal in (c.label, c.label_en)), None)
            if labelled is not None:
                problems.append((
                    f"'{literal}' is the label of choice '{labelled.value}' of '{name}'; "
                    f"conditions compare values: write '{labelled.value}'",
                    f"“{literal}”是字段“{field.name}”的选项“{labelled.value}”的标签，"
                    f"条件里要写选项的值“{labelled.value}”"))
            else:
                problems.append((
                    f"'{name}' has no choice '{literal}', so the comparison never holds "
                    f"(its values: {', '.join(values)})",
                    f"字段“{field.name}”没有“{literal}”这个选项，这个比较永远不成立"
                    f"（选项的值有：{'、'.join(values)}）"))
    return problems


def union_today(now: datetime | None = None) -> date:
    """The day ``now`` (else the present moment) is on the union's calendar (China)."""
    from workflows.expr import CALENDAR

    moment = now if now is not None else datetime.now(CALENDAR)
    return (moment.astimezone(CALENDAR) if moment.tzinfo else moment).date()


def on_day(form: "FormSpec", today: date | None = None) -> "FormSpec":
    """``form`` with its calendar-relative bounds read on ``today`` (the union's today
    when not given): the limits a value is checked against and a page shows.  The same
    object when it has none, as most forms do."""
    from dataclasses import replace

    if not any(isinstance(f.min, Relative) or isinstance(f.max, Relative)
               for f in form.fields):
        return form
    day = today if today is not None else union_today()
    fields = tuple(replace(f, **{k: getattr(f, k).on(day) for k in ("min", "max")
                                 if isinstance(getattr(f, k), Relative)})
                   for f in form.fields)
    return replace(form, fields=fields)


@dataclass(frozen=True)
class FieldSpec:
    """One field of a form.  Options a type does not use stay at their defaults."""

    name: str
    type: str
    label: str
    label_en: str | None = None
    required: bool = False
    help: str | None = None
    choices: tuple[Choice, ...] = ()
    min: int | Decimal | str | Relative | None = None
    max: int | Decimal | str | Relative | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    pattern_message: str | None = None
    accept: tuple[str, ...] = ()
    max_size: int | None = None
    max_files: int = 1
    private: bool = False
    show_if: expr.Expr | None = None
    default: Any = None
    line: int | None = None
    help_en: str | None = None
    pattern_message_en: str | None = None
    unit_kinds: tuple[str, ...] = ()
    # An org_unit field's area: a unit target (``form.station.district``,
    # ``applicant.district``); only that unit and the units below it may be chosen.
    # Checked against the other fields by the loader (``workflows.unit_fields``).
    within: str | None = None
    places: int | None = None
    source: str | None = None
    # A file anyone who may see the request may see too (a wish's photo on the wall):
    # files are otherwise shown only to those who may see personal data.
    public: bool = False
    # ``required: [approve]``: the actions of its step that need it filled (``required``
    # is then False: the step's other form actions take it empty).  Only an approval
    # step's form may say so; the loader checks the names against the step's ``form_on``
    # and writes a list naming every one of them as plain ``required: true``.
    required_on: tuple[str, ...] = ()

    def required_for(self, action: str) -> bool:
        """Whether the field must be filled when ``action`` sends its form."""
        return self.required or action in self.required_on

    def choice(self, value: Any) -> Choice | None:
        return next((c for c in self.choices if c.value == value), None)

    @property
    def accepted(self) -> tuple[str, ...]:
        """The file types a file field takes: its ``accept``, else ``DEFAULT_ACCEPT``."""
        return self.accept or DEFAULT_ACCEPT

    def label_in(self, locale: str = "zh") -> str:
        return self.label_en if str(locale).startswith("en") and self.label_en else self.label

    def shown(self, data: dict[str, Any]) -> bool:
        """Whether the field applies to ``data`` (its ``show_if`` holds, or it has none)."""
        return self.show_if is None or self.show_if.holds({"form": data})


@dataclass(frozen=True)
class FormRule:
    """A rule across fields, e.g. ``form.end >= form.start``; ``check`` must hold."""

    check: expr.Expr
    message: str
    message_en: str | None = None
    field: str | None = None
    line: int | None = None

    @property
    def record_names(self) -> frozenset[str]:
        """The ``record.<field>.<attribute>`` names it reads (looked up by the engine)."""
        return frozenset(n for n in self.check.names() if n.startswith("record."))


# Field types whose value names a row with attributes (``record.<field>.<attribute>``).
RECORD_TYPES = frozenset({"record", "slot", "station"})


@dataclass(frozen=True)
class FormSpec:
    fields: tuple[FieldSpec, ...] = ()
    rules: tuple[FormRule, ...] = ()

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def for_action(self, action: str) -> FormSpec:
        """The form as ``action`` takes it: a field required for some actions only is
        required for this one or not at all.  The same object when no field says so."""
        if not any(f.required_on for f in self.fields):
            return self
        from dataclasses import replace

        return replace(self, fields=tuple(
            replace(f, required=f.required_for(action), required_on=())
            if f.required_on else f for f in self.fields))


# ---------------------------------------------------------------------------- parsing
_SIZE = re.compile(r"\s*([0-9]{1,15})\s*(b|kb|k|mb|m|gb|g)?\s*", re.I)
_SIZE_UNITS = {None: 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024 ** 2, "mb": 1024 ** 2,
               "g": 1024 ** 3, "gb": 1024 ** 3}


def parse_form(data: Any, file: str = "<form>", *, known_names: Iterable[str] = (),
               where: Where | str = "form") -> tuple[FormSpec, list[Problem]]:
    """Parse a form section into a ``FormSpec`` and the problems found in it.

    ``known_names`` are dotted names (besides this form's ``form.<field>``) that
    ``show_if`` and rules may refer to, e.g. the start form's fields for a step form.
    """
    log = ProblemLog(file)
    if not isinstance(where, Where):
        where = Where(where, "表单" if where == "form" else where)
    spec = _FormParser(log, where, frozenset(known_names)).parse(data)
    return spec, log.problems


class _FormParser:
    def __init__(self, log: ProblemLog, where: Where, known: frozenset[str]):
        self.log, self.where, self.known = log, where, known

    def parse(self, data: Any) -> FormSpec:
        if data is None:
            return FormSpec()
        raw_fields, raw_rules = data, None
        if isinstance(data, dict):
            for key in set(data) - {"fields", "rules"}:
                self.log.add(line_of(data, key), f"{self.where}: unknown key '{key}' "
                             "(a form has 'fields' and 'rules')",
                             f"{self.where.zh}：不认识的设置项“{key}”（表单只有 fields 和 rules）")
            raw_fields, raw_rules = data.get("fields"), data.get("rules")
        if not isinstance(raw_fields, list):
            self.log.add(line_of(data), f"{self.where}: the fields must be a list",
                         f"{self.where.zh}：字段（fields）应写成一个列表")
            return FormSpec()
        fields = self._fields(raw_fields)
        names = {f"form.{f.name}" for f in fields} | self.known
        fields = tuple(self._check_show_if(f, names) for f in fields)
        if raw_rules is not None and not isinstance(raw_rules, list):
            self.log.add(line_of(data, "rules"), f"{self.where}: rules must be a list",
                         f"{self.where.zh}：规则（rules）应写成一个列表")
            raw_rules = None
        # Rules may also read attributes of this form's records (``record.slot.station``);
        # the engine looks them up through its directory when it checks the form.
        records = {f"record.{f.name}" for f in fields if f.type in RECORD_TYPES}
        rules = self._rules(raw_rules, names, {f.name for f in fields}, records)
        return FormSpec(fields, rules)

    def _fields(self, raw: list) -> tuple[FieldSpec, ...]:
        out: list[FieldSpec] = []
        seen: dict[str, int | None] = {}
        for index, item in enumerate(raw):
            line = line_of(raw, index)
            spec = self._field(item, line)
            if spec is None:
                continue
            if spec.name in seen:
                self.log.add(line, f"{self.where}: duplicate field name '{spec.name}'"
                             + (f" (first at line {seen[spec.name]})" if seen[spec.name] else ""),
                             f"{self.where.zh}：字段名“{spec.name}”重复"
                             + (f"（第一次出现在第 {seen[spec.name]} 行）" if seen[spec.name] else ""))
                continue
            seen[spec.name] = line
            out.append(spec)
        return tuple(out)

    def _field(self, item: Any, line: int | None) -> FieldSpec | None:
        if not isinstance(item, dict):
            self.log.add(line, f"{self.where}: each field must be a mapping like "
                         "{name: ..., type: ..., label: ...}",
                         f"{self.where.zh}：每个字段应写成 {{name: …, type: …, label: …}}")
            return None
        line = line_of(item) or line
        name = item.get("name")
        if not isinstance(name, str) or not FIELD_NAME.match(name):
            self.log.add(line, f"{self.where}: field name {name!r} must be lower-case letters, "
                         "digits and _ , starting with a letter",
                         (f"{self.where.zh}：字段缺少 name（字段名）" if name is None else
                          f"{self.where.zh}：字段名“{name}”写法不对")
                         + "，字段名只能用小写英文字母、数字和下划线，以字母开头")
            return None
        where = self.where.then(f"field '{name}'", f"的字段“{name}”")
        type_name = item.get("type", "text")
        field_type = FIELD_TYPES.get(type_name) if isinstance(type_name, str) else None
        if field_type is None:
            known = ", ".join(sorted(FIELD_TYPES))
            self.log.add(line_of(item, "type"), f"{where}: unknown field type {type_name!r} "
                         f"(known: {known})", f"{where.zh}：不认识的字段类型“{type_name}”"
                         f"（可用：{known.replace(', ', '、')}）")
            return None
        for key in item:
            if key not in field_type.options:
                self.log.add(line_of(item, key), f"{where}: option '{key}' does not apply "
                             f"to {type_name} fields",
                             f"{where.zh}：{field_type.label}（{type_name}）字段没有“{key}”"
                             "这一设置项（是否拼错了？）")
        reader = _OptionReader(self.log, item, where)
        label = reader.text("label", required=True) or name
        values: dict[str, Any] = dict(
            name=name, type=type_name, label=label, line=line,
            label_en=reader.text("label_en"), **reader.requirement(),
            help=reader.text("help"), help_en=reader.text("help_en"),
            private=reader.flag("private"))
        values.update(_TYPE_OPTIONS.get(type_name, _no_options)(reader))
        if "show_if" in item:
            values["show_if"] = reader.expression("show_if")
        spec = FieldSpec(**values)
        if "default" in item:
            spec = self._with_default(spec, item)
        return spec

    def _with_default(self, spec: FieldSpec, item: dict) -> FieldSpec:
        # Checked with the same rules as submitted data, so a default is always valid.
        from workflows.values import clean_value

        value, errors = clean_value(spec, item["default"])
        if errors:
            self.log.add(line_of(item, "default"), f"{self.where} field '{spec.name}': "
                         f"the default is not a valid value ({errors[0][1]})",
                         f"{self.where.zh}的字段“{spec.name}”：默认值（default）不合要求"
                         f"（{errors[0][0]}）")
            return spec
        return _replace(spec, default=value)

    def _check_show_if(self, spec: FieldSpec, names: set[str]) -> FieldSpec:
        if spec.show_if is None:
            return spec
        for name in sorted(spec.show_if.names() - names):
            self.log.add(spec.line, f"{self.where} field '{spec.name}': show_if refers to "
                         f"unknown field '{name}'",
                         f"{self.where.zh}的字段“{spec.name}”：显示条件 show_if 用到了"
                         f"不存在的字段“{name}”")
        if f"form.{spec.name}" in spec.show_if.names():
            self.log.add(spec.line, f"{self.where} field '{spec.name}': show_if may not "
                         "depend on the field itself",
                         f"{self.where.zh}的字段“{spec.name}”：显示条件 show_if 不能取决于"
                         "这个字段自己")
        return spec

    def _rules(self, raw: Any, names: set[str], field_names: set[str],
               records: set[str] = frozenset()) -> tuple[FormRule, ...]:
        if raw is None:
            return ()
        rules = []
        for index, item in enumerate(raw):
            line = line_of(raw, index)
            if not isinstance(item, dict):
                self.log.add(line, f"{self.where}: each rule must be a mapping "
                             "{check: ..., message: ...}",
                             f"{self.where.zh}：每条规则应写成 {{check: …, message: …}}")
                continue
            rule = self._rule(item, line_of(item) or line, names, field_names, records)
            if rule is not None:
                rules.append(rule)
        return tuple(rules)

    def _rule(self, item: dict, line: int | None, names: set[str],
              field_names: set[str], records: set[str]) -> FormRule | None:
        where = self.where.then("rule", "的规则")
        for key in set(item) - {"check", "message", "message_en", "field"}:
            self.log.add(line_of(item, key), f"{where}: unknown key '{key}'",
                         f"{where.zh}：不认识的设置项“{key}”（可用 check、message、message_en、field）")
        reader = _OptionReader(self.log, item, where)
        check = reader.expression("check", required=True)
        message = reader.text("message", required=True)
        field = reader.text("field")
        if field is not None and field not in field_names:
            self.log.add(line_of(item, "field"), f"{where}: field '{field}' is not in this form",
                         f"{where.zh}：字段“{field}”不在这张表单里")
        if check is None or message is None:
            return None
        for name in sorted(check.names() - names):
            if name.count(".") == 2 and name.rsplit(".", 1)[0] in records:
                continue
            self.log.add(line_of(item, "check"), f"{where}: refers to unknown field '{name}'",
                         f"{where.zh}：条件 check 用到了不存在的字段“{name}”")
        return FormRule(check, message, reader.text("message_en"), field, line)


def _replace(spec: FieldSpec, **changes: Any) -> FieldSpec:
    from dataclasses import replace
    return replace(spec, **changes)


class _OptionReader:
    """Reads and checks the options of one field, logging what is wrong."""

    def __init__(self, log: ProblemLog, item: dict, where: Where):
        self.log, self.item, self.where = log, item, where

    def bad(self, key: str, message: str, message_zh: str) -> None:
        self.log.add(line_of(self.item, key), f"{self.where}: {message}",
                     f"{self.where.zh}：{message_zh}")

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.item.get(key)
        if value is None:
            if required:
                self.log.add(line_of(self.item), f"{self.where}: '{key}' is required",
                             f"{self.where.zh}缺少 {key}")
            return None
        if isinstance(value, (dict, list)):
            self.bad(key, f"'{key}' must be text", f"{key} 应是一段文字")
            return None
        return str(value)

    def flag(self, key: str) -> bool:
        value = self.item.get(key, False)
        if not isinstance(value, bool):
            self.bad(key, f"'{key}' must be true or false", f"{key} 应为 true 或 false")
            return False
        return value

    def requirement(self) -> dict[str, Any]:
        """``required``: true or false, or a list of the actions the field is required
        for (``[approve]``: the step's form actions are checked by the loader)."""
        value = self.item.get("required", False)
        if isinstance(value, list) and value and all(
                isinstance(a, str) and FIELD_NAME.match(a) for a in value):
            return {"required": False, "required_on": tuple(dict.fromkeys(value))}
        if not isinstance(value, bool):
            self.bad("required", "'required' must be true, false or a list of the actions "
                     "it is required for, e.g. [approve]",
                     "required 应为 true、false，或列出哪些操作时必填，如 [approve]")
            return {"required": False}
        return {"required": value}

    def count(self, key: str, *, least: int = 0) -> int | None:
        value = self.item.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            self.bad(key, f"'{key}' must be a whole number of at least {least}",
                     f"{key} 应是不小于 {least} 的整数")
            return None
        return value

    def expression(self, key: str, *, required: bool = False) -> expr.Expr | None:
        value = self.item.get(key)
        if value is None:
            if required:
                self.log.add(line_of(self.item), f"{self.where}: '{key}' is required",
                             f"{self.where.zh}缺少 {key}（条件）")
            return None
        try:
            return expr.parse(value)
        except ExpressionError as exc:
            self.bad(key, f"'{key}': {exc.message('en')}", f"{key}：{expr.problem_zh(exc)}")
            return None

    def relative(self, key: str, base: str) -> Relative | None:
        """``key`` as a calendar-relative bound (``this_year - 1``) if it is written as
        one; None otherwise (then it is read as a plain bound)."""
        value = self.item.get(key)
        match = _RELATIVE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            return None
        if match.group(1) != base:
            self.bad(key, f"'{key}': {match.group(1)} does not apply here (use {base})",
                     f"{key}：这里不能用 {match.group(1)}，请用 {base}")
            return None
        offset = int(match.group(3) or 0)
        return Relative(base, -offset if match.group(2) == "-" else offset)

    def number(self, key: str, *, whole: bool) -> int | Decimal | None:
        value = self.item.get(key)
        if value is None:
            return None
        if isinstance(value, bool):
            value = "bad"
        if whole:
            if isinstance(value, int):
                return value
            self.bad(key, f"'{key}' must be a whole number", f"{key} 应是整数")
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            self.bad(key, f"'{key}' must be a number", f"{key} 应是数字")
            return None
        return number

    def day(self, key: str, *, with_time: bool) -> str | None:
        value = self.item.get(key)
        if value is None:
            return None
        if isinstance(value, datetime) and not with_time:
            return value.date().isoformat()  # YAML reads "2025-05-01 10:00" as a datetime
        if isinstance(value, (date, datetime)):
            return value.isoformat()
        try:
            parsed = (datetime if with_time else date).fromisoformat(str(value))
        except ValueError:
            self.bad(key, f"'{key}' must be an ISO date like 2025-05-01",
                     f"{key} 应是 2025-05-01 这样的日期" if not with_time
                     else f"{key} 应是 2025-05-01 或 2025-05-01T09:30 这样的日期时间")
            return None
        return parsed.isoformat()


def _no_options(reader: _OptionReader) -> dict[str, Any]:
    return {}


def _text_options(reader: _OptionReader) -> dict[str, Any]:
    out = _length_options(reader)
    pattern = reader.text("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            near = f"（第 {exc.pos + 1} 个字符附近）" if exc.pos is not None else ""
            reader.bad("pattern", f"'pattern' is not a valid regular expression ({exc})",
                       f"pattern 不是有效的正则表达式{near}，请检查括号、方括号是否成对")
            pattern = None
    out.update(pattern=pattern, pattern_message=reader.text("pattern_message"),
               pattern_message_en=reader.text("pattern_message_en"))
    return out


def _length_options(reader: _OptionReader) -> dict[str, Any]:
    least, most = reader.count("min_length"), reader.count("max_length", least=1)
    if least is not None and most is not None and least > most:
        reader.bad("min_length", "min_length is larger than max_length",
                   "最短长度 min_length 大于最长长度 max_length")
    return {"min_length": least, "max_length": most}


def _range_options(whole: bool) -> Any:
    def bound(reader: _OptionReader, key: str) -> Any:
        if whole and key in reader.item:  # a year may be counted from this one
            relative = reader.relative(key, "this_year")
            if relative is not None or _RELATIVE.fullmatch(str(reader.item[key])):
                return relative
        return reader.number(key, whole=whole)

    def read(reader: _OptionReader) -> dict[str, Any]:
        least, most = bound(reader, "min"), bound(reader, "max")
        if _inverted(least, most):
            reader.bad("min", "min is larger than max", "最小值 min 大于最大值 max")
        out: dict[str, Any] = {"min": least, "max": most}
        if not whole:
            out["places"] = reader.count("places")
        return out
    return read


def _date_options(with_time: bool) -> Any:
    def bound(reader: _OptionReader, key: str) -> Any:
        if not with_time and key in reader.item:  # a day may be counted from today
            relative = reader.relative(key, "today")
            if relative is not None or _RELATIVE.fullmatch(str(reader.item[key])):
                return relative
        return reader.day(key, with_time=with_time)

    def read(reader: _OptionReader) -> dict[str, Any]:
        least, most = bound(reader, "min"), bound(reader, "max")
        if _inverted(least, most):
            reader.bad("min", "min is later than max", "最早日期 min 晚于最晚日期 max")
        return {"min": least, "max": most}
    return read


def _inverted(least: Any, most: Any) -> bool:
    """Whether ``min`` is past ``max``: known for two fixed bounds or two counted from
    the same day; a fixed bound against a relative one depends on the day."""
    if least is None or most is None:
        return False
    relative = isinstance(least, Relative) + isinstance(most, Relative)
    if relative == 2:
        return least.offset > most.offset
    return relative == 0 and least > most


def _choice_options(multiple: bool) -> Any:
    def read(reader: _OptionReader) -> dict[str, Any]:
        out: dict[str, Any] = {"choices": _choices(reader)}
        if multiple:
            least, most = reader.count("min"), reader.count("max", least=1)
            if least is not None and most is not None and least > most:
                reader.bad("min", "min is larger than max", "最少选择数 min 大于最多选择数 max")
            out.update(min=least, max=most)
        return out
    return read


def _choices(reader: _OptionReader) -> tuple[Choice, ...]:
    raw = reader.item.get("choices")
    if raw is None or (isinstance(raw, (dict, list)) and not raw):
        reader.log.add(line_of(reader.item), f"{reader.where}: a choice field needs 'choices'",
                       f"{reader.where.zh}：选择字段需要写选项 choices")
        return ()
    if isinstance(raw, dict):
        entries = [(value, raw[value], line_of(raw, value)) for value in raw]
    elif isinstance(raw, list):
        entries = [_choice_entry(item, line_of(raw, i)) for i, item in enumerate(raw)]
    else:
        reader.bad("choices", "'choices' must be a mapping {value: label} or a list",
                   "选项 choices 应写成 {值: 标签}，或一个列表")
        return ()
    choices: list[Choice] = []
    for value, label, line in entries:
        choice = _choice(reader, value, label, line)
        if choice is None:
            continue
        if any(c.value == choice.value for c in choices):
            reader.log.add(line, f"{reader.where}: duplicate choice '{choice.value}'",
                           f"{reader.where.zh}：选项“{choice.value}”重复")
            continue
        choices.append(choice)
    return tuple(choices)


def _choice_entry(item: Any, line: int | None) -> tuple[Any, Any, int | None]:
    if isinstance(item, dict):
        return item.get("value"), item, line_of(item) or line
    return item, item, line  # a bare value is its own label


def _choice(reader: _OptionReader, value: Any, label: Any, line: int | None) -> Choice | None:
    if value is None or isinstance(value, (dict, list, bool)):
        reader.log.add(line, f"{reader.where}: each choice needs a text value",
                       f"{reader.where.zh}：每个选项都要有一个文字的值")
        return None
    label_en = None
    if isinstance(label, dict):
        label_en = label.get("label_en")
        label = label.get("label", value)
    if label is None or isinstance(label, (dict, list)):
        reader.log.add(line, f"{reader.where}: choice '{value}' needs a text label",
                       f"{reader.where.zh}：选项“{value}”需要一个文字标签")
        return None
    return Choice(str(value), str(label), None if label_en is None else str(label_en))


def _file_options(reader: _OptionReader) -> dict[str, Any]:
    # Left out (or empty), accept stays (): the platform's DEFAULT_ACCEPT applies.
    accept = reader.item.get("accept") or []
    if isinstance(accept, str):
        accept = [part.strip() for part in accept.split(",") if part.strip()]
    if not isinstance(accept, list) or not all(
            isinstance(a, str) and re.fullmatch(r"[\w.+-]+/([\w.+-]+|\*)|\.\w+", a, re.ASCII)
            for a in accept):
        reader.bad("accept", "'accept' must list MIME types like image/* or application/pdf",
                   "accept 应列出文件类型，如 image/* 或 application/pdf")
        accept = []
    public = reader.flag("public")
    if public and reader.item.get("private"):
        reader.bad("public", "a file field cannot be both public and private",
                   "附件字段不能既公开（public）又是个人信息（private）")
        public = False
    return {"accept": tuple(accept), "max_size": _size(reader),
            "max_files": reader.count("max_files", least=1) or 1, "public": public}


def _size(reader: _OptionReader) -> int | None:
    value = reader.item.get("max_size")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0:
        reader.bad("max_size", "'max_size' must be a size like 5MB, 500KB or a number of bytes",
                   "max_size 应写成 5MB、500KB 这样的大小，或一个字节数")
        return None
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower() or None]


def _org_unit_options(reader: _OptionReader) -> dict[str, Any]:
    out: dict[str, Any] = {}
    within = reader.item.get("within")
    if within is not None:
        # Only its form here: the loader checks the target against every field.
        if isinstance(within, str) and within.strip():
            out["within"] = within.strip()
        else:
            reader.bad("within", "'within' must be a unit target like form.station.district "
                       "or applicant.district",
                       "within 应写明单位范围，如 form.station.district 或 applicant.district")
    # Left out (or empty), unit_kinds stays (): any kind of unit may be chosen.
    kinds = reader.item.get("unit_kinds") or []
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, list):
        reader.bad("unit_kinds", "'unit_kinds' must be a list of unit kinds",
                   "unit_kinds 应是单位类型的列表")
        return out
    unknown = [k for k in kinds if not isinstance(k, str) or k not in UNIT_KIND_KEYS]
    if unknown:
        reader.bad("unit_kinds", f"unknown unit kind(s) {', '.join(map(str, unknown))} "
                   f"(known: {', '.join(sorted(UNIT_KIND_KEYS))})",
                   f"不认识的单位类型：{'、'.join(map(str, unknown))}"
                   f"（可用：{'、'.join(sorted(UNIT_KIND_KEYS))}）")
        return out
    return {**out, "unit_kinds": tuple(kinds)}


def _record_options(reader: _OptionReader) -> dict[str, Any]:
    source = reader.text("source", required=True)
    if source is not None and not FIELD_NAME.match(source):
        reader.bad("source", "'source' must be a short name like course or retreat_batch",
                   "source 应是一个简短的名称，如 course 或 retreat_batch")
        source = None
    elif source is not None and source not in RECORD_SOURCES:
        # The platform has no list of such records: every start would be refused.
        known = ", ".join(f"{k} ({en})" for k, (_zh, en) in RECORD_SOURCES.items())
        known_zh = "、".join(f"{k}（{zh}）" for k, (zh, _en) in RECORD_SOURCES.items())
        reader.bad("source", f"unknown record source '{source}' (known: {known})",
                   f"不认识的记录来源“{source}”（可用：{known_zh}）")
        source = None
    return {"source": source}


_TYPE_OPTIONS = {
    "text": _text_options,
    "textarea": _length_options,
    "integer": _range_options(whole=True),
    "decimal": _range_options(whole=False),
    "date": _date_options(with_time=False),
    "datetime": _date_options(with_time=True),
    "choice": _choice_options(multiple=False),
    "multichoice": _choice_options(multiple=True),
    "file": _file_options,
    "org_unit": _org_unit_options,
    "record": _record_options,
}


def form_to_dict(spec: FormSpec) -> dict[str, Any]:
    """A JSON-ready description of a form, for the API and for client-side hints."""
    return {"fields": [_field_to_dict(f) for f in spec.fields],
            "rules": [{"check": r.check.source, "message": r.message,
                       "message_en": r.message_en, "field": r.field} for r in spec.rules]}


def _field_to_dict(spec: FieldSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": spec.name, "type": spec.type, "label": spec.label}
    defaults = FieldSpec(name="", type="", label="")
    for key in ("label_en", "required", "help", "help_en", "min_length", "max_length",
                "pattern", "pattern_message", "pattern_message_en", "max_size", "max_files",
                "private", "default", "places", "source", "public", "within"):
        value = getattr(spec, key)
        if value != getattr(defaults, key):
            out[key] = value
    for key in ("min", "max"):
        value = getattr(spec, key)
        if value is not None:
            out[key] = str(value) if isinstance(value, (Decimal, Relative)) else value
    if spec.choices:
        out["choices"] = [{"value": c.value, "label": c.label, "label_en": c.label_en}
                          for c in spec.choices]
    if spec.type == "file":
        out["accept"] = list(spec.accepted)
    if spec.unit_kinds:
        out["unit_kinds"] = list(spec.unit_kinds)
    if spec.required_on:
        out["required_on"] = list(spec.required_on)
    if spec.show_if is not None:
        out["show_if"] = spec.show_if.source
    return out
