"""Every problem a definition can have is said in Chinese too (``Problem.message_zh``).

The editor shows definition problems in the reader's language, so no problem may come
without Chinese, and the Chinese may not carry an English sentence along.  Three
checks: every place in the engine that reports a problem passes a Chinese message
(read from the source, so a place no test reaches is still held to it); every broken
definition the validation tests use, plus a corpus for the places they do not reach,
gives Chinese for every problem; and so do randomly broken shipped definitions.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.workflows.test_expr import REFUSED
from tests.workflows.test_hardening import mutated_shipped
from tests.workflows.test_validation import BASE, CASES, add_field, add_step, add_step_keys, edit
from workflows.loader import check_units, load_file, load_text
from workflows.memory import MemoryDirectory
from workflows.problems import Problem

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
CJK = re.compile(r"[\u4e00-\u9fff]")
# Three English words in a row, outside the ids and values a message quotes (“…”).
ENGLISH = re.compile(r"\b[A-Za-z]{2,} [A-Za-z]{2,} [A-Za-z]{2,}\b")
QUOTED = re.compile(r"“[^”]*”")


def english_left(text: str) -> str | None:
    match = ENGLISH.search(QUOTED.sub("“”", text))
    return match.group(0) if match else None


def assert_chinese(problems: list[Problem], source: str = "") -> None:
    for problem in problems:
        zh = problem.text("zh")
        assert zh != problem.message and CJK.search(zh), \
            f"no Chinese for {problem.message!r} ({source})"
        assert english_left(zh) is None, f"English left in {zh!r}: {english_left(zh)!r}"
        assert problem.text("en") == problem.message
        assert str(problem).endswith(problem.message)  # the command line stays English


# ---------------------------------------------------------------------------- every site

def _reporting_calls(tree: ast.AST):
    """Calls that report a problem: ``<…log>.add``, ``.bad`` and ``Problem(…)``."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "add" \
                and ast.unparse(func.value).endswith("log"):
            yield node, 3
        elif isinstance(func, ast.Attribute) and func.attr == "bad":
            yield node, 3
        elif isinstance(func, ast.Name) and func.id == "Problem":
            yield node, 4


def test_every_place_that_reports_a_problem_says_it_in_chinese_too():
    missing, count = [], 0
    for path in sorted(WORKFLOWS.rglob("*.py")):
        for node, needed in _reporting_calls(ast.parse(path.read_text(encoding="utf-8"))):
            count += 1
            args = node.args
            chinese = args[needed - 1] if len(args) >= needed else None
            text = ast.unparse(chinese) if chinese is not None else ""
            if not CJK.search(text) and "zh" not in text:
                missing.append(f"{path.relative_to(WORKFLOWS.parent)}:{node.lineno}")
    assert count > 150  # the scan finds them (164 today)
    assert not missing, missing


# ---------------------------------------------------------------------------- the corpus

# Broken definitions the validation tests do not make, for the places they do not reach.
MORE = [
    # YAML the reader refuses, each said in Chinese
    "a: b: c\n", "a:\n  b: 1\n c: 2\n", "a: 'x\n", "a: [1, 2\n", "a: {x: 1\n", "a: *nope\n",
    "a: !foo 1\n", "a: 1\n---\nb: 2\n", "a: @x\n", "key: x\n\tname: y\n", 'a: "\\q"\n',
    "a: &x 1\nb: &x 2\n", "a: |\n b\n c: d\ne\n", "a: 2025-02-30\n", "a: \x07\n", "5\n",
    "key: Bad-Key\n" + BASE.split("\n", 1)[1], "null\n",
    edit("key: demo", "key: 5"),
    # forms
    edit("    - {name: amount, type: integer, label: 金额}",
         "    - {name: amount, type: integer, label: 金额, default: x}"),
    add_field("{name: Bad, type: text, label: x}"),
    add_field("{type: text, label: x}"),
    add_field("5"),
    add_field("{name: x, type: colour, label: x}"),
    add_field("{name: x, type: text, label: x, places: 2}"),
    add_field("{name: x, type: text}"),
    add_field("{name: x, type: text, label: [a]}"),
    add_field("{name: x, type: text, label: x, required: often}"),
    add_field("{name: x, type: text, label: x, max_length: 0}"),
    add_field("{name: x, type: text, label: x, min_length: 5, max_length: 2}"),
    add_field("{name: x, type: text, label: x, pattern: '(a'}"),
    add_field("{name: x, type: text, label: x, show_if: 'form.nope == 1'}"),
    add_field("{name: x, type: text, label: x, show_if: 'form.x == 1'}"),
    add_field("{name: x, type: text, label: x, show_if: 'x if y else z'}"),
    add_field("{name: x, type: integer, label: x, min: 5, max: 2}"),
    add_field("{name: x, type: integer, label: x, min: 1.5}"),
    add_field("{name: x, type: integer, label: x, max: today}"),
    add_field("{name: x, type: decimal, label: x, min: abc}"),
    add_field("{name: x, type: date, label: x, min: tomorrow}"),
    add_field("{name: x, type: date, label: x, min: 2025-05-02, max: 2025-05-01}"),
    add_field("{name: x, type: datetime, label: x, min: soon}"),
    add_field("{name: x, type: choice, label: x}"),
    add_field("{name: x, type: choice, label: x, choices: 5}"),
    add_field("{name: x, type: choice, label: x, choices: [a, a]}"),
    add_field("{name: x, type: choice, label: x, choices: [[a]]}"),
    add_field("{name: x, type: choice, label: x, choices: {a: [b]}}"),
    add_field("{name: x, type: multichoice, label: x, choices: [a, b], min: 2, max: 1}"),
    add_field("{name: x, type: file, label: x, accept: [5]}"),
    add_field("{name: x, type: file, label: x, public: true, private: true}"),
    add_field("{name: x, type: file, label: x, max_size: huge}"),
    add_field("{name: x, type: org_unit, label: x, within: 5}"),
    add_field("{name: x, type: org_unit, label: x, unit_kinds: 5}"),
    add_field("{name: x, type: org_unit, label: x, unit_kinds: [planet]}"),
    add_field("{name: x, type: org_unit, label: x, within: form.x}"),
    add_field("{name: x, type: org_unit, label: x, within: form.station}"),
    add_field("{name: x, type: org_unit, label: x, within: applicant.station.paired.paired}"),
    add_field("{name: x, type: record, label: x}"),
    add_field("{name: x, type: record, label: x, source: Bad-Source}"),
    add_field("{name: amount, type: integer, label: again}"),
    edit("  form:\n", "  form:\n    colour: red\n    fields:\n").replace(
        "    - {name: amount", "      - {name: amount").replace(
        "    - {name: station", "      - {name: station").replace(
        "    - {name: course", "      - {name: course"),
    edit("  form:\n", "  form: {fields: 5}\n  old_form:\n"),
    edit("steps:\n", "  checks: 5\nsteps:\n"),
    edit("steps:\n", "  checks: [5, {check: 'form.amount > 1', message: 少, colour: red, "
         "message_en: [x], field: nope}]\nsteps:\n"),
    edit("steps:\n", "  unique_counts: [later]\nsteps:\n"),
    edit("steps:\n", "  unique_counts: [completed]\nsteps:\n"),
    edit("steps:\n", "  no_overlap: amount\nsteps:\n"),
    edit("steps:\n", "  unique: 5\nsteps:\n"),
    edit("  who: {role: worker}", "  who: {role: unit_admin, of: form.station}"),
    # titles
    "title: 5\n" + BASE, "title: '{nope}'\n" + BASE,
    "title: '{amount}'\n" + BASE.replace("label: 金额}", "label: 金额, private: true}"),
    # steps of each kind
    add_step_keys("    mode: sometimes\n"),
    add_step_keys("    mode: n_of_m\n"),
    add_step_keys("    n: 2\n"),
    add_step_keys("    actions: 5\n"),
    add_step_keys("    actions: [approve, shout]\n"),
    add_step_keys("    actions: [reject]\n"),
    add_step_keys("    return_to: 5\n"),
    add_step_keys("    return_to: [nowhere]\n"),
    add_step_keys("    return_to: [review]\n"),
    edit("    approvers: {role: unit_admin, of: applicant}\n", "    approvers: anyone\n"),
    edit("    approvers: {role: unit_admin, of: applicant}\n", ""),
    edit("  done: completed\n  rejected: rejected\n", "  done: completed\n"),
    add_step("  pool: {kind: claim, name: 认领, pool: applicant, next: done}\n"),
    add_step("  pool2: {kind: claim, name: 认领, pool: {role: volunteer}, capacity: 0, "
             "next: done}\n"),
    add_step("  t: {kind: task, name: 办理, assignee: anyone, next: done}\n"),
    add_step("  w: {kind: timer, name: 等待, next: done}\n"),
    add_step("  w2: {kind: timer, name: 等待, until: 2025-13-45x, next: done}\n"),
    add_step("  w3: {kind: timer, name: 等待, until: 'form.amount +', next: done}\n"),
    add_step("  r: {kind: reserve, name: 名额, resource: 'c:{form.course}', capacity: 0, "
             "release_on: [later], next: done}\n"),
    add_step("  r2: {kind: reserve, name: 名额, resource: '', capacity: 'len(', next: done}\n"),
    add_step("  d: {kind: decision, name: 分支, branches: 5, default: [done]}\n"),
    add_step("  d2: {kind: decision, name: 分支, branches: [5, {when: 'form.nope', go: done, "
             "colour: red}, {when: 'record.amount.unit == 1', go: gone}], default: done}\n"),
    add_step("  d3: {kind: decision, name: 分支}\n"),
    add_step("  a: {kind: attendance, name: 出勤, assignee: anyone, register: 5, "
             "pass_rate: 101, next: {passed: done, failed: done}}\n"),
    add_step("  amount: {kind: attendance, name: 出勤, assignee: {role: unit_admin, of: "
             "applicant}, register: 'c:{form.course}', next: {passed: done, failed: done}}\n"),
    add_step("  p: {kind: publicity, name: 公示, next: done}\n"),
    add_step("  p2: {kind: publicity, name: 公示, duration: 0d, next: {passed: done}}\n"),
    add_step("  form_step: {kind: task, name: 填写, assignee: applicant, next: done, form: "
             "[{name: unit, type: org_unit, label: 单位, within: form.unit}]}\n"),
    add_step("  form_step: {kind: task, name: 填写, assignee: applicant, next: done, form: "
             "[{name: unit, type: org_unit, label: 单位, within: applicant.district.paired}]}\n"),
    add_step("  form_step: {kind: task, name: 填写, assignee: applicant, next: done, form: "
             "{fields: [{name: x, type: integer, label: x}], rules: 5}}\n"),
    add_step("  form_step: {kind: task, name: 填写, assignee: applicant, next: done, form: "
             "{fields: [{name: x, type: integer, label: x}], rules: [5, {check: 'form.y > 1', "
             "message: 错, field: y, colour: red}, {message: 错}]}}\n"),
    add_step_keys("    name_en: [x]\n"),
    add_step_keys("    sla: {escalate_after: 2d, escalate_to: {role: volunteer}}\n"),
    add_step_keys("    notify: [{role: volunteer, within: form.nope}]\n"),
]


def corpus():
    yield from ((name, text) for name, text, _line, _words in CASES)
    yield from ((f"more {n}", text) for n, text in enumerate(MORE))
    for source, _words in REFUSED:
        if "\x00" not in source:
            yield f"condition {source[:20]!r}", add_field(
                "{name: x, type: text, label: x, show_if: " + yaml.safe_dump(source).split(
                    "\n...")[0].strip() + "}")


@pytest.mark.parametrize("name, text", list(corpus()), ids=lambda v: str(v)[:40])
def test_every_problem_of_a_broken_definition_is_said_in_chinese(name, text):
    spec, problems = load_text(text, "demo.yaml")
    assert problems or spec is not None
    assert_chinese(problems, name)


def test_files_and_units_that_are_not_there_are_said_in_chinese(tmp_path):
    _, problems = load_file(tmp_path / "missing.yaml")
    assert_chinese(problems)
    spec, _ = load_text(edit("of: applicant}", "of: {code: nowhere}}"), "demo.yaml")
    assert_chinese(check_units(spec, MemoryDirectory()))


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_randomly_broken_shipped_definitions_are_said_in_chinese(data):
    _, problems = load_text(mutated_shipped(data), "x.yaml")
    assert_chinese(problems)


def test_a_malformed_key_says_what_a_key_may_contain():
    _, problems = load_text(edit("key: demo", "key: Bad-Key"), "demo.yaml")
    (problem,) = problems
    assert "required" not in problem.message and "Bad-Key" in problem.message
    assert problem.text("zh") == ("key“Bad-Key”的写法不对：只能用小写英文字母、数字和下划线，"
                                  "以字母开头，最多 63 个字符，如 micro_wish")


def test_the_testers_definition_reads_in_chinese_with_the_same_ids_and_lines():
    text = (WORKFLOWS / "definitions" / "micro_wish.yaml").read_text(encoding="utf-8")
    text = "foo_bar: 1\n" + text.replace("next: {approve: wall,", "next: {approve: wal,", 1) \
        .replace("    approvers: {role: station_head, of: form.station}\n",
                 "    approvers: {role: station_head, of: form.station}\n    approverz: x\n", 1)
    _, problems = load_text(text, "micro_wish.yaml")
    said = {(p.line, p.text("zh")) for p in problems}
    lines = text.split("\n")
    approverz = lines.index("    approverz: x") + 1
    assert (1, "不认识的设置项“foo_bar”：流程定义的最外层只能有 description、description_en、"
               "ends、key、name、name_en、start、steps、title") in said
    assert (approverz, "环节“verify”：不认识的设置项“approverz”，审批环节没有这一项"
                       "（是否拼错了？）") in said
    assert any(zh == "环节“verify”：同意（approve）之后去“wal”，但既没有这个环节，"
                     "也没有这个结束" for _, zh in said)
    assert any(zh == "环节“wall”永远不会被走到：从第一个环节“verify”出发，没有路线通到这里"
               for _, zh in said)
    assert [p.line for p in problems] == sorted(p.line for p in problems)
