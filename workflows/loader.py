"""Loading and validating definition files.

``load_text``/``load_file`` return ``(spec, problems)``: the spec is None whenever
there is any problem, and the problems list every one found, each with file and line.
See docs/definitions.md for the format.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

from workflows.fields import FieldSpec, FormSpec, choice_problems, parse_form
from workflows.graph import edges, reachable_from, reaches_an_end
from workflows.kinds import KINDS, ALIASES, StepReader, kind_of, lookup
from workflows.kinds.base import refuse_required_on
from workflows.problems import Problem, ProblemLog, Where, step_where
from workflows.rules import PersonRule, parse_rule, record_source
from workflows.spec import (END_STATUSES, EndSpec, ProcessSpec, Sla, StartCheck, StartSpec,
                            StepSpec, Template, Timeout, UNTITLED_TYPES, status_label,
                            title_field)
from workflows.unit_fields import check_within
from workflows.yamlio import line_of, load_yaml, plain

IDENT = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TOP_KEYS = frozenset({"key", "name", "name_en", "description", "description_en", "title",
                      "start", "steps", "ends"})
START_KEYS = frozenset({"who", "on_behalf", "form", "first", "one_active_per_applicant", "unique",
                        "withdraw", "checks", "no_overlap", "unique_counts"})
CHECK_KEYS = frozenset({"check", "message", "message_en", "field"})
STEP_KEYS = frozenset({"kind", "name", "name_en", "description", "description_en", "form",
                       "next", "sla", "timeout", "notify", "withdraw"})
SLA_KEYS = frozenset({"remind_after", "escalate_after", "escalate_to"})
DEFINITION = Where("the definition", "流程定义")
# How the outcomes a step's arrows carry read in a Chinese problem message.
OUTCOMES_ZH = {"approve": "同意", "reject": "不同意", "done": "完成", "passed": "通过",
               "failed": "未通过", "objected": "有异议", "granted": "占到名额",
               "refused": "名额已满", "timeout": "超时", "default": "其他情况"}
START_FORM = Where("start form", "发起表单")


def load_file(path: str | Path) -> tuple[ProcessSpec | None, list[Problem]]:
    """Read and validate one definition file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(str(path), None, f"cannot read the file: {exc}",
                              "无法读取该文件：文件不存在、没有读取权限，或不是 UTF-8 编码")]
    return load_text(text, str(path))


def load_text(text: str, filename: str = "<definition>") -> tuple[ProcessSpec | None,
                                                                  list[Problem]]:
    """Parse and validate definition text; the spec is None if anything is wrong."""
    log = ProblemLog(filename)
    data = load_yaml(text, log)
    if data is None:
        return None, sorted(log.problems, key=_order)
    if not isinstance(data, dict):
        log.add(line_of(data), "a definition must be a mapping (key: ..., name: ..., steps: ...)",
                "流程定义应是一组“名称: 值”的设置（key: …、name: …、steps: …），"
                "而不是单独一个值或一个列表")
        return None, log.problems
    # What YAML itself found (a key written twice) comes first: the rest may follow from it.
    found_reading = len(log.problems)
    spec = _Parser(data, log, filename).parse()
    problems = sorted(dict.fromkeys(log.problems[:found_reading]), key=_order) + sorted(
        dict.fromkeys(log.problems[found_reading:]), key=_order)
    return (spec if not problems else None), problems


def check_units(spec: ProcessSpec, directory: Any) -> list[Problem]:
    """Problems with named units ({code: ...}) that the organisation does not have.

    Run at publish time with the real directory: codes cannot be checked from the file.
    """
    problems = []
    for rule in spec.person_rules():
        ref = rule.of or rule.within
        if ref is not None and ref.base == "code" and directory.unit_by_code(ref.arg) is None:
            problems.append(Problem(spec.file, rule.line,
                                    f"there is no unit with code '{ref.arg}'",
                                    f"没有代码为“{ref.arg}”的单位"))
    return problems


def _order(problem: Problem) -> tuple:
    return (problem.line or 0, problem.message)


def spec_digest(source: str | Mapping[str, Any] | ProcessSpec) -> str:
    """A sha256 of the definition's data in canonical JSON.

    Same data → same digest, whatever the comments, key order or spacing; any change
    of content → a new digest (and, in the web layer, a new version).  Accepts the
    definition text, its parsed data or a loaded spec.
    """
    if isinstance(source, ProcessSpec):
        return source.digest
    if isinstance(source, str):
        data = load_yaml(source, ProblemLog("<digest>"))
        if data is None:  # unreadable text: still tell different texts apart
            return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
        source = data
    canonical = json.dumps(plain(source), sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class _Parser:
    def __init__(self, data: dict, log: ProblemLog, filename: str):
        self.data, self.log, self.filename = data, log, filename
        self.fields: dict[str, FieldSpec] = {}
        # Every reading of a form field outside the forms: (step id or "" for the start,
        # dotted name, field, line, where) — checked once the routes are known.
        self.uses: list[tuple[str, str, str, int | None, Where]] = []

    def parse(self) -> ProcessSpec | None:
        data, log = self.data, self.log
        for key in data:
            if key not in TOP_KEYS:
                log.add(line_of(data, key), f"unknown key '{key}' (a definition has "
                        f"{', '.join(sorted(TOP_KEYS))})",
                        f"不认识的设置项“{key}”：流程定义的最外层只能有 "
                        f"{'、'.join(sorted(TOP_KEYS))}")
        key = data.get("key")
        if key is None:
            log.add(line_of(data, "key") or 1, "'key' is required: lower-case letters, digits "
                    "and _ , e.g. micro_wish",
                    "缺少 key（流程的标识）：只能用小写英文字母、数字和下划线，如 micro_wish")
            key = "invalid"
        elif not isinstance(key, str) or not IDENT.match(key):
            log.add(line_of(data, "key") or 1, f"'key' {key!r} is not a valid process key: "
                    "only lower-case letters, digits and _ , starting with a letter and at "
                    "most 63 characters, e.g. micro_wish",
                    f"key“{key}”的写法不对：只能用小写英文字母、数字和下划线，以字母开头，"
                    "最多 63 个字符，如 micro_wish")
            key = "invalid"
        name = self._text(data, "name", DEFINITION, required=True) or key
        raw_start = data.get("start")
        if not isinstance(raw_start, dict):
            log.add(line_of(data, "start") or 1, "'start' is required: who may start and the "
                    "start form", "缺少 start：写明谁可以发起，以及发起表单")
            raw_start = {}
        raw_steps = data.get("steps")
        if not isinstance(raw_steps, dict) or not raw_steps:
            log.add(line_of(data, "steps") or 1, "'steps' is required: a mapping of step id "
                    "to step", "缺少 steps：流程的各个环节（环节 id: 环节的设置）")
            raw_steps = {}
        forms = self._forms(raw_start, raw_steps)
        ends = self._ends(data.get("ends"))
        steps = [s for s in (self._step(sid, raw, forms.get(sid, FormSpec()))
                             for sid, raw in raw_steps.items()) if s is not None]
        start = self._start(raw_start, forms.get("", FormSpec()), steps)
        spec = ProcessSpec(
            key=key, name=name, start=start, steps=tuple(steps), ends=tuple(ends),
            name_en=self._text(data, "name_en", DEFINITION),
            description=self._text(data, "description", DEFINITION),
            description_en=self._text(data, "description_en", DEFINITION),
            file=self.filename, digest=spec_digest(data),
            title=self._title(data, forms.get("", FormSpec())))
        spec = replace(spec, steps=tuple(self._with_defaults(s, spec) for s in spec.steps))
        self._check_graph(spec, raw_steps)
        return spec

    # ------------------------------------------------------------------ pieces
    def _text(self, raw: Mapping, key: str, where: Where, *, required: bool = False,
              line: int | None = None) -> str | None:
        value = raw.get(key)
        if value is None:
            if required:
                self.log.add(line or line_of(raw), f"{where}: '{key}' is required",
                             f"{where.zh}缺少 {key}")
            return None
        if isinstance(value, (dict, list)):
            self.log.add(line_of(raw, key), f"{where}: '{key}' must be text",
                         f"{where.zh}的 {key} 应是一段文字")
            return None
        return str(value)

    def _title(self, data: Mapping, form: FormSpec) -> Template | None:
        if "title" not in data:
            return None
        line, text = line_of(data, "title"), data["title"]
        if not isinstance(text, str) or not text.strip():
            self.log.add(line, "'title' must be text naming start-form fields, e.g. "
                         "\"{category} · {station}\"",
                         "title 应是一段文字，由发起表单的字段组成，如 \"{category} · {station}\"")
            return None
        template = Template(text)
        start_fields = [f.name for f in form.fields]
        for name in template.names():
            field = form.field(title_field(name))
            if field is None:
                elsewhere = " (it is a step's field, filled in later)" \
                    if title_field(name) in self.fields else ""
                elsewhere_zh = "（它是某个环节的字段，要到后面才填写）" if elsewhere else ""
                self.log.add(line, f"title: '{{{name}}}' is not a field of the start form"
                             f"{elsewhere}; known: {', '.join(start_fields) or 'none'}",
                             f"title 中的“{{{name}}}”不是发起表单的字段{elsewhere_zh}；"
                             f"发起表单的字段有：{'、'.join(start_fields) or '（无）'}")
            elif field.private or field.type in UNTITLED_TYPES:
                what = "a file" if field.type == "file" else "personal data"
                what_zh = "附件" if field.type == "file" else "个人信息"
                self.log.add(line, f"title: '{{{name}}}' is {what} and cannot be shown in "
                             "the title, which lists show to everyone who sees the request",
                             f"title 中的“{{{name}}}”是{what_zh}，不能放进标题："
                             "列表会把标题显示给每一个能看到该事项的人")
        return template

    def _forms(self, raw_start: Mapping, raw_steps: Mapping) -> dict[str, FormSpec]:
        """Every form (start form under ""), with field names unique across them all."""
        sections = [("", START_FORM, raw_start.get("form"))]
        sections += [(sid, step_where(sid).then("form", "的表单"), raw.get("form"))
                     for sid, raw in raw_steps.items() if isinstance(raw, dict)]
        known = {f"form.{item['name']}" for _, _, raw in sections
                 for item in _field_items(raw) if isinstance(item.get("name"), str)}
        forms: dict[str, FormSpec] = {}
        where_defined: dict[str, tuple[Where, int | None]] = {}
        for sid, where, raw in sections:
            form, problems = parse_form(raw, self.filename, known_names=known, where=where)
            self.log.problems.extend(problems)
            kept = []
            for spec in form.fields:
                if spec.name in where_defined:
                    other, line = where_defined[spec.name]
                    self.log.add(spec.line, f"{where}: field '{spec.name}' is already defined "
                                 f"in the {other}" + (f" (line {line})" if line else ""),
                                 f"{where.zh}：字段“{spec.name}”已在{other.zh}中定义过"
                                 + (f"（第 {line} 行）" if line else "")
                                 + "；整个流程里字段名不能重复")
                    continue
                where_defined[spec.name] = (where, spec.line)
                kept.append(spec)
            forms[sid] = replace(form, fields=tuple(kept))
            self.fields.update({f.name: f for f in kept})
        start_fields = frozenset(f.name for f in forms.get("", FormSpec()).fields)
        refuse_required_on(forms.get("", FormSpec()), START_FORM, self.log)
        for sid, where, _raw in sections:
            for spec in forms.get(sid, FormSpec()).fields:
                check_within(spec, self.fields, self.log, where, start_fields)
            self._check_choices(forms.get(sid, FormSpec()), where)
        return forms

    def _check_choices(self, form: FormSpec, where: Where) -> None:
        """A form's show_if and rules may compare a choice field only with its values."""
        conditions = [(f.show_if, f.line, where.then(f"field '{f.name}' show_if",
                                                     f"的字段“{f.name}”的显示条件 show_if"))
                      for f in form.fields if f.show_if is not None]
        conditions += [(r.check, r.line, where.then("rule", "的规则")) for r in form.rules]
        for condition, line, place in conditions:
            for en, zh in choice_problems(condition, self.fields):
                self.log.add(line, f"{place}: {en}", f"{place.zh}：{zh}")

    def _ends(self, raw: Any) -> list[EndSpec]:
        if not isinstance(raw, dict) or not raw:
            self.log.add(line_of(self.data, "ends") or 1, "'ends' is required: a mapping of "
                         "end id to status, e.g. {done: completed, rejected: rejected}",
                         "缺少 ends：流程的各个结束及其结果状态，"
                         "如 {done: completed, rejected: rejected}")
            return []
        ends = []
        for end_id, value in raw.items():
            line = line_of(raw, end_id)
            if not IDENT.match(end_id):
                self.log.add(line, f"end id '{end_id}' must be lower-case letters, digits and _",
                             f"结束的 id“{end_id}”只能用小写英文字母、数字和下划线，以字母开头")
                continue
            if isinstance(value, str):
                value = {"status": value}
            if not isinstance(value, dict):
                self.log.add(line, f"end '{end_id}': write a status, or {{status: ..., name: ...}}",
                             f"结束“{end_id}”：请写一个结果状态，或写成 {{status: …, name: …}}")
                continue
            for key in set(value) - {"status", "name", "name_en"}:
                self.log.add(line_of(value, key) or line, f"end '{end_id}': unknown key '{key}'",
                             f"结束“{end_id}”：不认识的设置项“{key}”（可用：status、name、name_en）")
            status = value.get("status")
            if status not in END_STATUSES:
                self.log.add(line, f"end '{end_id}': unknown status {status!r} "
                             f"(known: {', '.join(END_STATUSES)})",
                             (f"结束“{end_id}”缺少 status" if status is None
                              else f"结束“{end_id}”：不认识的结果状态“{status}”")
                             + f"（可用：{'、'.join(END_STATUSES)}）")
                continue
            where = Where(f"end '{end_id}'", f"结束“{end_id}”")
            name = self._text(value, "name", where) or status_label(status)
            name_en = self._text(value, "name_en", where) or status_label(status, "en")
            ends.append(EndSpec(end_id, status, name, name_en, line))
        return ends

    def _start(self, raw: Mapping, form: FormSpec, steps: list[StepSpec]) -> StartSpec:
        for key in raw:
            if key not in START_KEYS:
                self.log.add(line_of(raw, key), f"start: unknown key '{key}' "
                             f"(known: {', '.join(sorted(START_KEYS))})",
                             f"start 中不认识的设置项“{key}”（可用：{'、'.join(sorted(START_KEYS))}）")
        who = self._who(raw)
        first = raw.get("first", steps[0].id if steps else "")
        if not isinstance(first, str):
            self.log.add(line_of(raw, "first"), "start: 'first' must be a step id",
                         "start 的 first 应是一个环节的 id")
            first = ""
        unique = None
        if "unique" in raw:
            reader = StepReader(raw, self.log, "start", "start", self.fields)
            reader.where = Where("start", "start")
            reader.uses = ("", self.uses)
            unique = reader.template("unique")
        flags = {}
        for key in ("one_active_per_applicant", "withdraw"):
            value = raw.get(key, key == "withdraw")
            if not isinstance(value, bool):
                self.log.add(line_of(raw, key), f"start: '{key}' must be true or false",
                             f"start 的 {key} 应为 true 或 false")
                value = key == "withdraw"
            flags[key] = value
        return StartSpec(who, form, first, flags["one_active_per_applicant"], unique,
                         flags["withdraw"], self._checks(raw, form),
                         self._no_overlap(raw, form), self._unique_counts(raw, unique),
                         self._on_behalf(raw))

    def _on_behalf(self, raw: Mapping) -> tuple[PersonRule, ...]:
        """``on_behalf``: who may start it for someone else — role rules relative to that
        person (the applicant), e.g. {role: unit_admin, of: applicant}."""
        value = raw.get("on_behalf")
        if value is None:
            return ()
        items = value if isinstance(value, list) else [value]
        if not items:
            self.log.add(line_of(raw, "on_behalf"), "start: 'on_behalf' must name at least one "
                         "rule, e.g. {role: unit_admin, of: applicant}",
                         "start 的 on_behalf 至少要写一条规则，如 {role: unit_admin, of: applicant}")
        where = Where("start on_behalf", "start 的 on_behalf")
        rules = []
        for index, item in enumerate(items):
            line = line_of(value, index) if isinstance(value, list) \
                else line_of(raw, "on_behalf")
            if isinstance(item, str) and item in ("applicant", "claimer", "anyone"):
                self.log.add(line, f"start on_behalf: '{item}' cannot start for someone else; "
                             "name a role and whose it is, e.g. {role: unit_admin, of: applicant}",
                             f"start 的 on_behalf：不能写 {item}，请写明角色和所属单位，"
                             "如 {role: unit_admin, of: applicant}")
                continue
            rule = parse_rule(item, self.log, where, line, fields=self.fields, purpose="start")
            if rule is None:
                continue
            ref = rule.of or rule.within
            if ref is None or ref.base != "applicant":
                self.log.add(rule.line or line, "start on_behalf: say whose role it is "
                             "relative to the person started for, with of: or within: "
                             "applicant… (e.g. {role: unit_admin, of: applicant})",
                             "start 的 on_behalf：请用 of 或 within 写明相对于被代办人（applicant）"
                             "的单位，如 {role: unit_admin, of: applicant}")
                continue
            rules.append(rule)
        return tuple(rules)

    def _unique_counts(self, raw: Mapping, unique) -> tuple[str, ...]:
        value = raw.get("unique_counts", [])
        if not isinstance(value, list) or not all(v in END_STATUSES for v in value):
            self.log.add(line_of(raw, "unique_counts"), "start: 'unique_counts' must list end "
                         f"statuses ({', '.join(sorted(END_STATUSES))})",
                         "start 的 unique_counts 应列出结果状态（"
                         f"{'、'.join(sorted(END_STATUSES))}）")
            return ()
        if value and unique is None:
            self.log.add(line_of(raw, "unique_counts"), "start: 'unique_counts' needs 'unique'",
                         "start 的 unique_counts 要和 unique 一起使用")
        return tuple(value)

    def _no_overlap(self, raw: Mapping, form: FormSpec) -> str | None:
        name = raw.get("no_overlap")
        if name is None:
            return None
        field = form.field(name) if isinstance(name, str) else None
        if field is None or record_source(field) is None:
            self.log.add(line_of(raw, "no_overlap"), "start: 'no_overlap' must name a field of "
                         "the start form whose value is a record with a time window (e.g. a slot)",
                         "start 的 no_overlap 应是发起表单中某个字段的名称，"
                         "该字段的值要是带起止时间的记录（如值守时段 slot）")
            return None
        return name

    def _checks(self, raw: Mapping, form: FormSpec) -> tuple[StartCheck, ...]:
        items = raw.get("checks")
        if items is None:
            return ()
        if not isinstance(items, list):
            self.log.add(line_of(raw, "checks"), "start: 'checks' must be a list of "
                         "{check: ..., message: ...}",
                         "start 的 checks 应是一个列表，每一项写成 {check: …, message: …}")
            return ()
        reader = StepReader(raw, self.log, "start", "start", self.fields)
        reader.where = Where("start checks", "start.checks")
        reader.uses = ("", self.uses)
        checks = []
        for index, item in enumerate(items):
            line = line_of(items, index)
            if not isinstance(item, dict) or "check" not in item \
                    or not isinstance(item.get("message"), str):
                self.log.add(line, "start checks: each needs 'check' (a condition) and "
                             "'message'", "start 的 checks：每一项都要有 check（条件）和 "
                             "message（不满足时的提示）")
                continue
            for key in sorted(set(item) - CHECK_KEYS):
                self.log.add(line_of(item, key), f"start checks: unknown key '{key}'",
                             f"start 的 checks：不认识的设置项“{key}”"
                             "（可用：check、message、message_en、field）")
            check = reader.expression(item["check"], line_of(item, "check") or line, "check")
            messages = []
            for key in ("message", "message_en"):
                text = item.get(key)
                if text is not None and not isinstance(text, str):
                    self.log.add(line_of(item, key), f"start checks: '{key}' must be text",
                                 f"start 的 checks：{key} 应是一段文字")
                    text = None
                template = Template(text) if text else None
                if template is not None:
                    reader.check_names(template.names(), line_of(item, key) or line, key)
                messages.append(template)
            field = item.get("field")
            if field is not None and form.field(field) is None:
                self.log.add(line_of(item, "field"),
                             f"start checks: field '{field}' is not in the start form",
                             f"start 的 checks：字段“{field}”不在发起表单里")
                field = None
            if check is not None:
                checks.append(StartCheck(check, messages[0], messages[1], field, line))
        return tuple(checks)

    def _who(self, raw: Mapping) -> tuple[PersonRule, ...]:
        value = raw.get("who")
        if value is None:
            self.log.add(line_of(raw) or 1, "start: 'who' is required (who may start it, e.g. "
                         "{role: worker} or anyone)",
                         "start 缺少 who：写明谁可以发起，如 {role: worker} 或 anyone")
            return ()
        items = value if isinstance(value, list) else [value]
        rules = []
        for index, item in enumerate(items):
            line = line_of(value, index) if isinstance(value, list) else line_of(raw, "who")
            rule = parse_rule(item, self.log, Where("start who", "start 的 who"), line,
                              fields=self.fields, purpose="start")
            if rule is not None:
                ref = rule.of or rule.within
                if ref is not None and ref.base in ("form", "record"):
                    self.log.add(line, "start who: cannot depend on the form, which is "
                                 "filled in only after starting",
                                 "start 的 who 不能取决于表单：表单要在发起时才填写")
                    continue
                if rule.special == "claimer":
                    self.log.add(line, "start who: 'claimer' cannot start a process",
                                 "start 的 who：认领人（claimer）不能发起流程")
                    continue
                if rule.special == "applicant":
                    self.log.add(line, "start who: use 'anyone' or a role, not 'applicant'",
                                 "start 的 who：请写 anyone 或一个角色，不能写 applicant（申请人）")
                    continue
                rules.append(rule)
        return tuple(rules)

    def _step(self, step_id: Any, raw: Any, form: FormSpec) -> StepSpec | None:
        line = line_of(self.data.get("steps"), step_id)
        if not isinstance(step_id, str) or not IDENT.match(step_id):
            self.log.add(line, f"step id '{step_id}' must be lower-case letters, digits and _",
                         f"环节的 id“{step_id}”只能用小写英文字母、数字和下划线，以字母开头")
            return None
        status = raw if isinstance(raw, str) else (
            raw.get("status") if isinstance(raw, dict) and "kind" not in raw else None)
        if status in END_STATUSES and not isinstance(self.data.get("ends"), dict):
            # An end written without the 'ends:' line above it reads as a step.
            self.log.add(line, f"'{step_id}' looks like an end (status {status}) but is "
                         "read as a step: is the line 'ends:' missing above it?",
                         f"“{step_id}”看起来是一个结束（状态 {status}），却被当成了环节："
                         "是否漏写了它上面的 ends: 这一行？")
            return None
        if not isinstance(raw, dict):
            self.log.add(line, f"step '{step_id}' must be a mapping with at least 'kind'",
                         f"环节“{step_id}”应是一组设置，至少要有 kind（环节类型）")
            return None
        kind_name = raw.get("kind")
        kind = lookup(kind_name) if isinstance(kind_name, str) else None
        if kind is None:
            known = ", ".join(sorted(set(KINDS) | set(ALIASES)))
            self.log.add(line_of(raw, "kind") or line, f"step '{step_id}': unknown step kind "
                         f"{kind_name!r} (known: {known})",
                         (f"环节“{step_id}”缺少 kind（环节类型）" if kind_name is None
                          else f"环节“{step_id}”：不认识的环节类型“{kind_name}”")
                         + f"（可用：{known.replace(', ', '、')}）")
            return None
        where = step_where(step_id)
        for key in raw:
            if key not in STEP_KEYS and key not in kind.keys:
                self.log.add(line_of(raw, key), f"{where}: unknown key '{key}' for "
                             f"{kind.name} steps",
                             f"{where.zh}：不认识的设置项“{key}”，{kind.label}环节没有这一项"
                             "（是否拼错了？）")
        reader = StepReader(raw, self.log, step_id, kind.name, self.fields, line)
        reader.uses = (step_id, self.uses)
        config = kind.parse(reader)
        form = kind.step_form(form, config, reader)
        return StepSpec(
            id=step_id, kind=kind.name, line=line,
            name=self._text(raw, "name", where, required=True, line=line) or step_id,
            name_en=self._text(raw, "name_en", where),
            description=self._text(raw, "description", where),
            description_en=self._text(raw, "description_en", where),
            form=form, next=self._next(raw, reader, kind), sla=self._sla(raw, reader),
            timeout=self._timeout(raw, reader), notify=self._notify(raw, reader),
            withdraw=reader.flag("withdraw", True), config=config)

    def _next(self, raw: Mapping, reader: StepReader, kind: Any) -> dict[str, str]:
        value = raw.get("next")
        if value is None:
            return {}
        if not kind.outcomes:
            reader.bad("next", f"{kind.name} steps route with their own keys, not 'next'",
                       f"{kind.label}环节用自己的设置决定去向，不用 next")
            return {}
        if isinstance(value, str):
            return {kind.outcomes[0]: value}
        if not isinstance(value, dict):
            reader.bad("next", "'next' must be a step/end id or a mapping {outcome: id}",
                       "next 应是一个环节或结束的 id，或写成 {结果: id}")
            return {}
        out = {}
        for outcome, target in value.items():
            if outcome not in kind.outcomes:
                self.log.add(line_of(value, outcome), f"{reader.where}: 'next' has unknown "
                             f"outcome '{outcome}' ({kind.name} steps have: "
                             f"{', '.join(kind.outcomes)})",
                             f"{reader.where.zh}：next 里的结果“{outcome}”不存在"
                             f"（{kind.label}环节的结果有：{'、'.join(kind.outcomes)}）")
            elif not isinstance(target, str):
                self.log.add(line_of(value, outcome), f"{reader.where}: next.{outcome} must be "
                             "a step or end id",
                             f"{reader.where.zh}：next.{outcome} 应是一个环节或结束的 id")
            else:
                out[outcome] = target
        return out

    def _sla(self, raw: Mapping, reader: StepReader) -> Sla | None:
        value = raw.get("sla")
        if value is None:
            return None
        if not isinstance(value, dict):
            reader.bad("sla", "'sla' must be a mapping {remind_after, escalate_after, escalate_to}",
                       "sla 应是一组设置：{remind_after, escalate_after, escalate_to}")
            return None
        for key in set(value) - SLA_KEYS:
            self.log.add(line_of(value, key), f"{reader.where} sla: unknown key '{key}' "
                         f"(known: {', '.join(sorted(SLA_KEYS))})",
                         f"{reader.where.zh}的 sla：不认识的设置项“{key}”"
                         f"（可用：{'、'.join(sorted(SLA_KEYS))}）")
        sla_reader = StepReader(value, self.log, reader.step_id, reader.kind, self.fields)
        sla_reader.where = reader.where.then("sla", "的 sla")
        sla_reader.uses = reader.uses
        remind = sla_reader.duration("remind_after") if "remind_after" in value else None
        escalate = sla_reader.duration("escalate_after") if "escalate_after" in value else None
        target = sla_reader.rule("escalate_to", "assignee") if "escalate_to" in value else None
        if target is not None and target.special == "applicant":
            # Escalation never hands a task to its applicant: it would reach nobody.
            sla_reader.bad("escalate_to", "cannot escalate to the applicant; name a role "
                           "and whose it is, e.g. {role: district_admin, of: applicant.district}",
                           "不能督办给申请人（applicant）本人，请写明角色和所属单位，"
                           "如 {role: district_admin, of: applicant.district}")
            target = None
        if "escalate_to" in value and escalate is None and "escalate_after" not in value:
            sla_reader.bad("escalate_to", "escalate_to needs escalate_after",
                           "写了 escalate_to（督办给谁），还要写 escalate_after（多久后督办）")
        if remind and escalate and _minutes(remind) >= _minutes(escalate):
            sla_reader.bad("remind_after", "remind_after should come before escalate_after",
                           "remind_after（提醒）应早于 escalate_after（督办）")
        return Sla(remind, escalate, target)

    def _timeout(self, raw: Mapping, reader: StepReader) -> Timeout | None:
        value = raw.get("timeout")
        if value is None:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("go"), str) \
                or not set(value) - {"go"} or not set(value) <= {"after", "until", "go"}:
            reader.bad("timeout", "'timeout' must be {after: <duration>, go: <step or end "
                       "id>}, {until: <date>, go: …} or both (whichever comes first)",
                       "timeout 应写成 {after: 时长, go: 环节或结束的 id}、{until: 日期, go: …}，"
                       "或两者都写（以先到者为准）")
            return None
        duration = until = fixed = None
        if "after" in value:
            duration = reader.duration("timeout", value["after"], line_of(value, "after"))
            if duration is None:
                return None
        if "until" in value:
            from workflows.kinds.timer import read_moment

            until, fixed = read_moment(reader, "timeout", value["until"],
                                       line_of(value, "until"))
            if until is None and fixed is None:
                return None
        return Timeout(duration, value["go"], line_of(value, "go"), until=until, fixed=fixed)

    def _notify(self, raw: Mapping, reader: StepReader) -> tuple[PersonRule, ...]:
        value = raw.get("notify")
        if value is None:
            return ()
        items = value if isinstance(value, list) else [value]
        rules = []
        for index, item in enumerate(items):
            line = line_of(value, index) if isinstance(value, list) else reader.line("notify")
            where = reader.where.then("notify", "的 notify")
            rule = parse_rule(item, self.log, where, line,
                              fields=self.fields, purpose="assignee")
            reader.used_rule(rule, line, where)
            if rule is not None and rule.special == "anyone":
                self.log.add(line, f"{where}: cannot notify 'anyone'; name "
                             "the people", f"{where.zh}：不能通知 anyone（所有人），请写明通知谁")
            elif rule is not None:
                rules.append(rule)
        return tuple(rules)

    # ------------------------------------------------------------------ whole graph
    def _with_defaults(self, step: StepSpec, spec: ProcessSpec) -> StepSpec:
        defaults = kind_of(step).default_targets(step, spec)
        if not defaults:
            return step
        return replace(step, next={**defaults, **step.next})

    def _check_graph(self, spec: ProcessSpec, raw_steps: Mapping) -> None:
        log = self.log
        ids = {s.id for s in spec.steps}
        for end in spec.ends:
            if end.id in ids:
                log.add(end.line, f"'{end.id}' is both a step and an end",
                        f"“{end.id}”既是环节又是结束：环节和结束的 id 不能相同")
        if spec.start.first and spec.start.first not in ids:
            log.add(line_of(self.data.get("start"), "first"),
                    f"start: first step '{spec.start.first}' is not a step",
                    f"start 的 first：没有“{spec.start.first}”这个环节")
            return
        nodes = ids | {e.id for e in spec.ends}
        for step in spec.steps:
            kind = kind_of(step)
            for outcome in kind.required_outcomes:
                if outcome not in step.next:
                    where = "next" if outcome == kind.outcomes[0] else f"next.{outcome}"
                    log.add(step.line, f"step '{step.id}': say where '{outcome}' goes "
                            f"({where}: <step or end id>)",
                            f"环节“{step.id}”：请写明{_outcome_zh(outcome)}之后去哪里"
                            f"（{where}: 环节或结束的 id）")
            for label, target in edges(spec, step, include_returns=False):
                if target not in nodes:
                    log.add(_target_line(raw_steps, step, label), f"step '{step.id}': "
                            f"'{label}' goes to '{target}', which is neither a step nor an end",
                            f"环节“{step.id}”：{_outcome_zh(label)}之后去“{target}”，"
                            "但既没有这个环节，也没有这个结束")
            kind.check(step, spec, log)
            self._check_escalation(step, raw_steps.get(step.id))
        if not spec.steps or not spec.start.first:
            return
        reachable = reachable_from(spec, spec.start.first)
        for step in spec.steps:
            if step.id not in reachable:
                log.add(step.line, f"step '{step.id}' can never be reached from the first "
                        f"step '{spec.start.first}'",
                        f"环节“{step.id}”永远不会被走到：从第一个环节“{spec.start.first}”"
                        "出发，没有路线通到这里")
        good = reaches_an_end(spec)
        for step in spec.steps:
            if step.id in reachable and step.id not in good:
                log.add(step.line, f"step '{step.id}': there is no path from here to an end",
                        f"环节“{step.id}”：从这里出发走不到任何结束，流程会停在半路")
        for end in spec.ends:
            if end.id not in reachable:
                log.add(end.line, f"end '{end.id}' is never reached",
                        f"结束“{end.id}”永远不会被走到：没有环节通向它")
        self._check_known_fields(spec, reachable)

    def _check_known_fields(self, spec: ProcessSpec, reachable: set[str]) -> None:
        """Refuse a reading of a field that can never have been asked at that point: a
        start-form rule or ``show_if``, a start check or ``unique``, reading a step's
        field; a step (its form, conditions, dates, people) reading the field of a step
        that no route passes before it.  Routes include returns and timeouts, so only a
        field that is empty on every path is refused (like ``title`` and ``within``)."""
        owner = {f.name: "" for f in spec.start.form.fields}
        for step in spec.steps:
            owner.update({f.name: step.id for f in step.form.fields})
        before: dict[str, set[str]] = {}  # step id → steps some route reaches it from

        def comes_before(step_id: str, context: str) -> bool:
            if step_id not in before:
                step = spec.step(step_id)
                before[step_id] = set().union(*(reachable_from(spec, target) for _, target
                                                in edges(spec, step))) if step else set()
            return context in before[step_id]

        # (step, name, field, line, where, whether the step's own form may have asked it):
        # a form's own fields are filled in with it; the step's settings are read before.
        uses = [(*use, False) for use in self.uses]
        for context, form, where in [("", spec.start.form, START_FORM)] + [
                (s.id, s.form, step_where(s.id).then("form", "的表单")) for s in spec.steps]:
            for field in form.fields:
                if field.show_if is not None:
                    uses += [(context, name, name.split(".")[1], field.line,
                              where.then(f"field '{field.name}' show_if",
                                         f"的字段“{field.name}”的显示条件 show_if"), True)
                             for name in sorted(field.show_if.names())
                             if name.split(".")[0] in ("form", "record")]
            for rule in form.rules:
                uses += [(context, name, name.split(".")[1], rule.line,
                          where.then("rule", "的规则"), True)
                         for name in sorted(rule.check.names())
                         if name.split(".")[0] in ("form", "record")]
        for context, name, field, line, where, own in uses:
            asked_at = owner.get(field)
            if asked_at in (None, "") or (own and asked_at == context):
                continue
            if context == "":
                self.log.add(line, f"{where}: '{name}' is a field of step '{asked_at}', "
                             "filled in later; here only start-form fields have values",
                             f"{where.zh}：“{name}”是环节“{asked_at}”的字段，要到后面才填写；"
                             "这里只能用发起表单的字段")
            elif asked_at in reachable and not comes_before(asked_at, context):
                self.log.add(line, f"{where}: '{name}' is filled in at step '{asked_at}', "
                             "which no route passes before this point: it has no value here "
                             "(move the field to the start form or an earlier step)",
                             f"{where.zh}：“{name}”要到环节“{asked_at}”才填写，而任何路线走到"
                             "这里之前都不会经过该环节，这时它还没有值（请把该字段移到发起表单"
                             "或更早的环节）")


    def _check_escalation(self, step: StepSpec, raw: Any) -> None:
        if step.sla is None or step.sla.escalate_after is None or step.sla.escalate_to:
            return
        rule = getattr(step.config, "approvers", None) or getattr(step.config, "assignee", None)
        if rule is None and isinstance(raw, dict) and ({"approvers", "assignee"} & set(raw)):
            return  # the rule itself is wrong (a role typo): that problem is the one to fix
        if rule is None or rule.one_level_up() is None:
            self.log.add(step.line, f"step '{step.id}' sla: say whom to escalate to "
                         "(escalate_to: {role: ..., of: ...})",
                         f"环节“{step.id}”的 sla：请写明督办给谁"
                         "（escalate_to: {role: …, of: …}）")


def _outcome_zh(label: str) -> str:
    """An outcome (or a decision branch's label) as a Chinese message names it."""
    if label in OUTCOMES_ZH:
        return f"{OUTCOMES_ZH[label]}（{label}）"
    return f"分支“{label}”"


def _field_items(raw: Any) -> list[dict]:
    if isinstance(raw, dict):
        raw = raw.get("fields")
    return [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []


def _target_line(raw_steps: Mapping, step: StepSpec, label: str) -> int | None:
    raw = raw_steps.get(step.id)
    if not isinstance(raw, dict):
        return step.line
    if label == "timeout":
        return line_of(raw.get("timeout"), "go") or line_of(raw, "timeout")
    nxt = raw.get("next")
    if isinstance(nxt, dict) and label in nxt:
        return line_of(nxt, label)
    if "next" in raw:
        return line_of(raw, "next")
    return line_of(raw, "default") if label == "default" else step.line


def _minutes(duration: Any) -> float:
    per = {"m": 1, "h": 60, "d": 1440, "w": 10080, "wd": 1440 * 7 / 5}
    return duration.amount * per[duration.unit]


__all__ = ["load_file", "load_text", "spec_digest", "check_units", "Problem"]
