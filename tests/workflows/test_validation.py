"""Every problem the validator reports, with the line it points at.

Each case edits a small valid definition (BASE) and names the line and the words a
definition author must see.  ``None`` as a line means "the whole file".
"""
from __future__ import annotations

import pytest

from workflows.loader import load_text

BASE = """\
key: demo
name: 演示
start:
  who: {role: worker}
  form:
    - {name: amount, type: integer, label: 金额}
    - {name: station, type: station, label: 驿站}
    - {name: course, type: record, source: course, label: 课程}
steps:
  review:
    kind: approval
    name: 审核
    approvers: {role: unit_admin, of: applicant}
    next: done
ends:
  done: completed
  rejected: rejected
"""

STEP_LINE = "    next: done\n"
FIELD_LINE = "    - {name: amount, type: integer, label: 金额}\n"
TASK = "  later: {kind: task, name: 后续, assignee: applicant, next: done}\n"
FINDING = "    form: [{name: finding, type: textarea, label: 结论, required: true}]\n"


def edit(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def add_step_keys(lines: str) -> str:
    """Extra keys for the review step, starting on line 15."""
    return edit(STEP_LINE, STEP_LINE + lines)


def add_field(field: str) -> str:
    """An extra start-form field on line 9."""
    return edit("steps:\n", f"    - {field}\nsteps:\n")


def add_step(text: str) -> str:
    """Another step, from line 15 on."""
    return edit("ends:\n", text + "ends:\n")


def field_rules(rules: str) -> str:
    """The start form written as {fields, rules}; ``rules`` go on line 10 on."""
    form = ("  form:\n    fields:\n"
            "      - {name: amount, type: integer, label: 金额}\n"
            "      - {name: station, type: station, label: 驿站}\n"
            "      - {name: course, type: record, source: course, label: 课程}\n"
            "    rules:\n")
    old = BASE[BASE.index("  form:\n"):BASE.index("steps:\n")]
    return BASE.replace(old, form + rules)


def line_of(text: str, fragment: str) -> int:
    """The line (from 1) where ``fragment`` first appears in ``text``."""
    return text[:text.index(fragment)].count("\n") + 1


# A field the review step asks (line 15), read where it has no value yet.
NOTE = "    form: [{name: note, type: text, label: 意见}]\n"
LATER_NOTE = add_step_keys(NOTE)
CHOOSE_LATER = edit(STEP_LINE, "    next: choose\n").replace("ends:\n", (
    "  choose:\n    kind: decision\n    name: 分支\n    branches:\n"
    "      - {when: \"form.grade == 'a'\", go: later}\n    default: done\n"
    "  later: {kind: task, name: 后续, assignee: applicant, next: done,\n"
    "          form: [{name: grade, type: text, label: 等级}]}\nends:\n"))
START_RULE_LATER = field_rules("      - {check: \"number(form.note) <= 10000\", message: 太多}\n"
                               ).replace(STEP_LINE, STEP_LINE + NOTE)

GRADE = ("{name: grade, type: choice, label: 年级, choices: {freshman: 大一新生, "
         "sophomore: {label: 大二, label_en: Second year}}}")
SKILLS = "{name: skills, type: multichoice, label: 技能, choices: [legal, repair]}"


def read_grade(condition: str) -> str:
    """The grade field (line 9) and a field shown on ``condition`` (line 10)."""
    return add_field(f"{GRADE}\n    - {{name: extra, type: text, label: 补充, "
                     f"show_if: \"{condition}\"}}")


CASES = [
    # ------------------------------------------------------------------ YAML itself
    ("duplicate key", edit("  rejected: rejected\n", "  rejected: rejected\n  done: approved\n"),
     18, "duplicate key 'done' (first at line 16)"),
    ("complex key", BASE + "? [a, b]\n: x\n", 18, "a key must be plain text"),
    ("not YAML", "key: [\n", 2, "not valid YAML"),
    ("too deep", "[" * 3000 + "]" * 3000, None, "nested too deeply"),
    ("empty", "", None, "the file is empty"),
    ("too big", "# " + "x" * 600_000, None, "larger than 512 KB"),
    ("alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
     + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n"
               for p, c in zip("abcde", "bcdef")), 1, "too large once its aliases"),
    ("list at top", "- a\n- b\n", 1, "a definition must be a mapping"),
    ("full-width colon", edit("    name: 审核\n", "    name：审核\n"), 12,
     "'name' is followed by a full-width colon '：'; write the ASCII colon ':'"),
    ("full-width colon, last key", edit("    next: done\n", "    next：done\n"), 14,
     "'next' is followed by a full-width colon '：'"),
    ("full-width colon in braces", add_field("{name： extra, type: text, label: 补充}"), 9,
     "'name' is followed by a full-width colon"),
    ("full-width quotes", add_field("{name: extra, type: text, label: 补充, "
                                    "show_if: “form.amount > 1”}"), 9,
     "'show_if': full-width '“' at column 1: write the ASCII ' or \" instead"),
    ("full-width brackets", field_rules("      - {check: 'number（form.amount） > 1', "
                                        "message: 太少}\n"), 11,
     "full-width '（' at column 7: write the ASCII ( instead"),
    # ------------------------------------------------------------------ top level
    ("unknown top key", BASE + "colour: red\n", 18, "unknown key 'colour'"),
    ("bad key", edit("key: demo", "key: Demo Process"), 1, "is not a valid process key"),
    ("missing key", edit("key: demo\n", ""), 1, "'key' is required"),
    ("missing name", edit("name: 演示\n", ""), 1, "the definition: 'name' is required"),
    ("name not text", edit("name: 演示", "name: [a]"), 2, "'name' must be text"),
    ("missing start", edit("start:\n", "start: 5\nold_start:\n"), 3, "'start' is required"),
    ("missing steps", edit("steps:\n", "steps: {}\nold_steps:\n"), 9, "'steps' is required"),
    ("missing ends", BASE.split("ends:")[0], 1, "'ends' is required"),
    ("bad end id", edit("  done: completed", "  Done: completed"), 16, "end id 'Done'"),
    ("bad end value", edit("  done: completed", "  done: [completed]"), 16,
     "write a status, or {status: ..., name: ...}"),
    ("end unknown key", edit("  done: completed", "  done: {status: completed, colour: red}"),
     16, "end 'done': unknown key 'colour'"),
    ("end unknown status", edit("  done: completed", "  done: finished"), 16,
     "unknown status 'finished'"),
    ("step and end", edit("  done: completed", "  done: completed\n  review: completed"), 17,
     "'review' is both a step and an end"),
    # ------------------------------------------------------------------ start
    ("start unknown key", edit("  who:", "  colour: red\n  who:"), 4, "start: unknown key 'colour'"),
    ("first not text", edit("  who:", "  first: [a]\n  who:"), 4, "'first' must be a step id"),
    ("first unknown", edit("  who:", "  first: nowhere\n  who:"), 4,
     "first step 'nowhere' is not a step"),
    ("flag not bool", edit("  who:", "  one_active_per_applicant: often\n  who:"), 4,
     "'one_active_per_applicant' must be true or false"),
    ("missing who", edit("  who: {role: worker}\n", ""), 4, "start: 'who' is required"),
    ("claimer starts", edit("{role: worker}", "claimer"), 4, "'claimer' cannot start"),
    ("applicant starts", edit("{role: worker}", "applicant"), 4,
     "use 'anyone' or a role, not 'applicant'"),
    ("unique unknown name", edit("  who:", "  unique: 'x:{form.nope}'\n  who:"), 4,
     "refers to unknown field 'form.nope'"),
    # ------------------------------------------------------------------ steps
    ("bad step id", edit("  review:", "  Review:"), 10, "step id 'Review'"),
    ("step not mapping", add_step("  later: 5\n"), 15, "step 'later' must be a mapping"),
    ("unknown kind", edit("kind: approval", "kind: aproval"), 11,
     "unknown step kind 'aproval' (known: approval, attendance, claim, decision, form, publicity"),
    ("unknown step key", add_step_keys("    colour: red\n"), 15,
     "unknown key 'colour' for approval steps"),
    ("step name missing", edit("    name: 审核\n", ""), 10, "step 'review': 'name' is required"),
    ("next on decision", add_step("  choose: {kind: decision, name: 分支, next: done, "
                                  "branches: [{when: 'form.amount > 1', go: done}], default: done}\n"),
     15, "decision steps route with their own keys, not 'next'"),
    ("next wrong type", edit(STEP_LINE, "    next: [done]\n"), 14, "'next' must be a step/end id"),
    ("unknown outcome", edit(STEP_LINE, "    next: {aprove: done}\n"), 14,
     "unknown outcome 'aprove' (approval steps have: approve, reject)"),
    ("outcome target not text", edit(STEP_LINE, "    next: {approve: [done]}\n"), 14,
     "next.approve must be a step or end id"),
    ("transition to nowhere", edit(STEP_LINE, "    next: dnoe\n"), 14,
     "'approve' goes to 'dnoe', which is neither a step nor an end"),
    ("outcome missing", edit(STEP_LINE, ""), 10, "say where 'approve' goes (next:"),
    ("unreachable", add_step(TASK), 15, "step 'later' can never be reached"),
    ("no way out", edit(STEP_LINE, "    actions: [approve]\n    next: loop\n")
     + "", 10, "there is no path from here to an end"),
    ("end never reached", edit(STEP_LINE, "    actions: [approve]\n    next: done\n"), 18,
     "end 'rejected' is never reached"),
    ("withdraw not bool", add_step_keys("    withdraw: maybe\n"), 15,
     "'withdraw' must be true or false"),
    # ------------------------------------------------------------------ SLA / timeout
    ("sla not mapping", add_step_keys("    sla: 2d\n"), 15, "'sla' must be a mapping"),
    ("sla unknown key", add_step_keys("    sla: {remind: 2d}\n"), 15, "sla: unknown key 'remind'"),
    ("escalate_to alone", add_step_keys(
        "    sla: {escalate_to: {role: district_admin, of: applicant.district}}\n"), 15,
     "escalate_to needs escalate_after"),
    ("remind after escalate", add_step_keys("    sla: {remind_after: 5d, escalate_after: 2d}\n"),
     15, "remind_after should come before escalate_after"),
    ("bad duration", add_step_keys("    sla: {remind_after: 2 days}\n"), 15,
     "bad duration '2 days': write it like 30m, 4h, 2d, 1w or 3wd"),
    ("duration not text", add_step_keys("    sla: {remind_after: [2d]}\n"), 15,
     "bad duration ['2d']"),
    ("zero duration", add_step_keys("    sla: {remind_after: 0d}\n"), 15,
     "it must be longer than zero"),
    ("huge duration", add_step_keys("    sla: {remind_after: 9999w}\n"), 15,
     "longer than ten years"),
    ("escalate to nobody", add_step(TASK.replace("next: done", "next: done, sla: "
                                                 "{escalate_after: 2d}")).replace(
        "next: done\n", "next: later\n", 1), 15, "sla: say whom to escalate to"),
    ("timeout shape", add_step_keys("    timeout: 3d\n"), 15,
     "'timeout' must be {after: <duration>, go: <step or end id>}"),
    ("timeout bad duration", add_step_keys("    timeout: {after: soon, go: done}\n"), 15,
     "timeout: bad duration 'soon'"),
    ("timeout without a time", add_step_keys("    timeout: {go: done}\n"), 15,
     "'timeout' must be {after: <duration>, go: <step or end id>}"),
    ("timeout with an unknown key", add_step_keys("    timeout: {at: 3d, go: done}\n"), 15,
     "'timeout' must be {after: <duration>, go: <step or end id>}"),
    ("timeout until a bad date", add_step_keys("    timeout: {until: '2025-02-30', go: done}\n"),
     15, "'timeout' '2025-02-30' is not an ISO date"),
    ("timeout until a bad expression",
     add_step_keys("    timeout:\n      until: record.course.(\n      go: done\n"), 16, "timeout"),
    ("timeout to nowhere", add_step_keys("    timeout:\n      after: 3d\n      go: nowhere\n"),
     17, "'timeout' goes to 'nowhere'"),
    ("notify anyone", add_step_keys("    notify: [anyone]\n"), 15, "cannot notify 'anyone'"),
    # ------------------------------------------------------------------ person rules
    ("unknown person", edit("{role: unit_admin, of: applicant}", "boss"), 13,
     "unknown person 'boss'"),
    ("rule wrong type", edit("{role: unit_admin, of: applicant}", "5"), 13,
     "a rule must be applicant, claimer, anyone or a mapping"),
    ("rule unknown key", edit("of: applicant}", "of: applicant, level: 2}"), 13,
     "unknown key 'level' in a rule"),
    ("unknown role", edit("role: unit_admin", "role: boss"), 13, "unknown role 'boss'"),
    ("exact not bool", edit("of: applicant}", "of: applicant, exact: sure}"), 13,
     "'exact' must be true or false"),
    ("of and within", edit("of: applicant}", "of: applicant, within: applicant}"), 13,
     "give either 'of' or 'within', not both"),
    ("role of nobody", edit(", of: applicant}", "}"), 13,
     "say whose unit_admin it is, e.g. of: applicant.district"),
    ("bad code", edit("of: applicant}", "of: {code: [1]}}"), 13,
     "a named unit is written {code: UNIT_CODE}"),
    ("of not text", edit("of: applicant}", "of: 5}"), 13, "unknown unit target 5"),
    ("unknown modifier", edit("of: applicant}", "of: applicant.planet}"), 13,
     "'planet' is not parent, paired or a unit kind"),
    ("unknown form field", edit("of: applicant}", "of: form.nope}"), 13,
     "there is no field 'nope'"),
    ("not a unit field", edit("of: applicant}", "of: form.amount}"), 13,
     "field 'amount' is of type integer; a unit target needs an org_unit or station field"),
    ("not a record field", edit("of: applicant}", "of: record.amount.unit}"), 13,
     "'amount' is not a record, slot or station field"),
    ("unknown base", edit("of: applicant}", "of: boss.unit}"), 13,
     "unknown unit target 'boss.unit' (start with applicant"),
    ("never a unit", edit("of: applicant}", "of: applicant.district.paired}"), 13,
     "'applicant.district.paired' can never name a unit"),
    ("impossible role", edit("role: unit_admin, of: applicant", "role: station_head, of: "
                             "applicant.district"), 13,
     "nobody can match station_head of applicant.district"),
    ("impossible exact", edit("role: unit_admin, of: applicant", "role: district_admin, of: "
                              "form.station, exact: true"), 13,
     "nobody can match district_admin of form.station"),
    # ------------------------------------------------------------------ approval
    ("no approvers", edit("    approvers: {role: unit_admin, of: applicant}\n", ""), 10,
     "approval steps need 'approvers'"),
    ("approvers anyone", edit("{role: unit_admin, of: applicant}", "anyone"), 13,
     "approvers cannot be 'anyone'"),
    ("approvers applicant", edit("{role: unit_admin, of: applicant}", "applicant"), 13,
     "approvers cannot be 'applicant' (nobody approves their own request)"),
    ("escalate to the applicant", add_step_keys("    sla: {escalate_after: 2d, "
                                                "escalate_to: applicant}\n"), 15,
     "cannot escalate to the applicant"),
    ("attendance by the applicant", add_step(
        "  a: {kind: attendance, name: 出勤, assignee: applicant, register: 'c:{form.course}', "
        "next: {passed: done, failed: done}}\n"), 15,
     "attendance is confirmed by named people other than the applicant"),
    ("unknown mode", add_step_keys("    mode: most\n"), 15, "unknown approval mode 'most'"),
    ("n missing", add_step_keys("    mode: n_of_m\n"), 15, "mode n_of_m needs n"),
    ("n not needed", add_step_keys("    n: 2\n"), 15, "'n' only applies to mode n_of_m"),
    ("n not a number", add_step_keys("    mode: n_of_m\n    n: two\n"), 16,
     "'n' must be a whole number"),
    ("actions wrong type", add_step_keys("    actions: approve\n"), 15,
     "'actions' must list some of approve, reject, return"),
    ("unknown action", add_step_keys("    actions: [approve, sign]\n"), 15,
     "unknown approval action(s) sign"),
    ("approve missing", add_step_keys("    actions: [reject]\n"), 15,
     "an approval step must allow approve"),
    ("return_to shape", add_step_keys("    return_to: [1]\n"), 15,
     "'return_to' must list applicant and/or earlier step ids"),
    ("return_to unknown", add_step_keys("    return_to: [nope]\n"), 10,
     "return_to 'nope' is not a step"),
    ("return_to later", edit(STEP_LINE, "    return_to: [later]\n    next: later\n")
     .replace("ends:\n", TASK + "ends:\n"), 10,
     "return_to 'later' is not a step that comes before it"),
    ("reject nowhere", edit("  rejected: rejected\n", "  rejected: cancelled\n"), 10,
     "say where reject goes"),
    # form_on: which of an approval's actions send its form; required: [actions]
    ("form_on not a list", add_step_keys("    form_on: reject\n" + FINDING), 15,
     "'form_on' must list the actions that send the step's form: approve and/or reject"),
    ("form_on unknown action", add_step_keys("    form_on: [approve, sign]\n" + FINDING), 15,
     "'form_on': unknown action 'sign'"),
    ("form_on return", add_step_keys("    form_on: [approve, return]\n" + FINDING), 15,
     "'form_on': 'return' takes no form"),
    ("form_on action not allowed", add_step_keys(
        "    actions: [approve, return]\n    form_on: [approve, reject]\n" + FINDING), 16,
     "'form_on': 'reject' is not one of the step's actions (approve, return)"),
    ("form_on without a form", add_step_keys("    form_on: [approve, reject]\n"), 15,
     "'form_on' names the actions that send the step's form, but the step has no form"),
    ("required on an action without the form", add_step_keys(
        "    form: [{name: cost, type: integer, label: 金额, required: [reject]}]\n"), 15,
     "step 'review' form field 'cost': 'required': 'reject' does not send the form "
     "(form_on: approve); add it to form_on"),
    ("required on an unknown action", add_step_keys(
        "    form_on: [approve, reject]\n"
        "    form: [{name: cost, type: integer, label: 金额, required: [approved]}]\n"), 16,
     "'required': unknown action 'approved'"),
    ("required on return", add_step_keys(
        "    form: [{name: cost, type: integer, label: 金额, required: [return]}]\n"), 15,
     "'required': 'return' takes no form"),
    ("required list in the start form", add_field(
        "{name: cost, type: integer, label: 金额, required: [approve]}"), 9,
     "start form field 'cost': 'required' can list actions only in an approval step's form"),
    ("required list in a task form", edit(STEP_LINE, "    next: later\n").replace(
        "ends:\n", "  later: {kind: task, name: 后续, assignee: applicant, next: done,\n"
        "          form: [{name: cost, type: integer, label: 金额, required: [complete]}]}\n"
        "ends:\n"), 16, "step 'later' form field 'cost': 'required' can list actions only"),
    ("required empty list", add_field("{name: cost, type: integer, label: 金额, required: []}"),
     9, "'required' must be true, false or a list of the actions"),
    # ------------------------------------------------------------------ other kinds
    ("task for anyone", add_step(TASK.replace("assignee: applicant", "assignee: anyone")), 15,
     "a task needs named people"),
    ("pool of applicant", add_step("  wall: {kind: claim, name: 认领, pool: applicant, "
                                   "next: done}\n"), 15, "a pool cannot be 'applicant'"),
    ("pool anywhere", add_step("  wall: {kind: claim, name: 认领, pool: {role: volunteer}, "
                               "next: done}\n"), 15, "say where the pool is"),
    ("bad capacity", add_step("  wall: {kind: claim, name: 认领, capacity: 0, next: done, "
                              "pool: {role: volunteer, within: applicant.district}}\n"), 15,
     "'capacity' must be a whole number of at least 1"),
    ("bad waitlist", add_step("  wall: {kind: claim, name: 认领, waitlist: often, next: done, "
                              "pool: {role: volunteer, within: applicant.district}}\n"), 15,
     "'waitlist' must be true or false"),
    ("branches not list", add_step("  choose: {kind: decision, name: 分支, branches: x, "
                                   "default: done}\n"), 15, "'branches' must be a list"),
    ("branch without go", add_step("  choose:\n    kind: decision\n    name: 分支\n"
                                   "    branches:\n      - {when: 'form.amount > 1'}\n"
                                   "    default: done\n"), 19, "each branch needs 'when'"),
    ("branch unknown key", add_step("  choose:\n    kind: decision\n    name: 分支\n"
                                    "    branches:\n      - {when: 'form.amount > 1', go: done,"
                                    " if: x}\n    default: done\n"), 19,
     "unknown key 'if' in a branch"),
    ("branch bad condition", add_step("  choose:\n    kind: decision\n    name: 分支\n"
                                      "    branches:\n      - {when: 'form.amount >', go: done}\n"
                                      "    default: done\n"), 19, "branch 'when': syntax error"),
    ("condition unknown field", add_step("  choose:\n    kind: decision\n    name: 分支\n"
                                         "    branches:\n      - {when: 'form.nope > 1', go: "
                                         "done}\n    default: done\n"), 19,
     "branch 'when': refers to unknown field 'form.nope'"),
    ("condition not a record", add_step("  choose:\n    kind: decision\n    name: 分支\n"
                                        "    branches:\n      - {when: 'record.amount.x', go: "
                                        "done}\n    default: done\n"), 19,
     "'record.amount.x': 'amount' is not a record, slot or station field"),
    ("condition unknown root", add_step("  choose:\n    kind: decision\n    name: 分支\n"
                                        "    branches:\n      - {when: 'boss.x == 1', go: "
                                        "done}\n    default: done\n"), 19,
     "refers to unknown name 'boss.x'"),
    ("default missing", add_step("  choose: {kind: decision, name: 分支, branches: "
                                 "[{when: 'form.amount > 1', go: done}]}\n"), 15,
     "decision steps need 'default'"),
    ("default not text", add_step("  choose: {kind: decision, name: 分支, default: [done], "
                                  "branches: [{when: 'form.amount > 1', go: done}]}\n"), 15,
     "'default' must be a step or end id"),
    ("resource not text", add_step("  seat: {kind: reserve, name: 名额, resource: 5, "
                                   "next: done}\n"), 15, "'resource' must be text like"),
    ("resource unknown field", add_step("  seat: {kind: reserve, name: 名额, resource: "
                                        "'c:{form.nope}', next: done}\n"), 15,
     "resource: refers to unknown field 'form.nope'"),
    ("reserve capacity", add_step("  seat: {kind: reserve, name: 名额, resource: "
                                  "'c:{form.course}', capacity: 0, next: done}\n"), 15,
     "'capacity' must be at least 1"),
    ("release_on", add_step("  seat: {kind: reserve, name: 名额, resource: "
                            "'c:{form.course}', release_on: [never], next: done}\n"), 15,
     "'release_on' must list end statuses"),
    ("full_message not text", add_step("  seat: {kind: reserve, name: 名额, resource: "
                                       "'c:{form.course}', full_message: [满], next: done}\n"),
     15, "'full_message' must be text"),
    ("full_message unseen", add_step("  seat: {kind: reserve, name: 名额, resource: "
                                     "'c:{form.course}', full_message: 名额用完了, "
                                     "next: {granted: done, refused: done}}\n"), 15,
     "'full_message' is never shown: a full resource goes to next.refused"),
    ("full_message_en alone", add_step("  seat: {kind: reserve, name: 名额, resource: "
                                       "'c:{form.course}', full_message_en: All taken, "
                                       "next: done}\n"), 15,
     "'full_message_en' needs 'full_message'"),
    ("timer needs one", add_step("  wait: {kind: timer, name: 等待, next: done}\n"), 15,
     "a timer step needs exactly one of 'until' (a date) or 'after' (a duration)"),
    ("timer bad date", add_step("  wait: {kind: timer, name: 等待, until: '2025-13-01', "
                                "next: done}\n"), 15, "'until' '2025-13-01' is not an ISO date"),
    ("timer until a text field", add_field("{name: school, type: text, label: 学校}").replace(
        "ends:\n", "  wait: {kind: timer, name: 等待, until: form.school, next: done}\nends:\n"),
     16, "step 'wait' until: 'until' must give a date: 'form.school' is a text field, not a date"),
    ("timeout until a phone", add_field("{name: phone, type: phone, label: 电话}").replace(
        STEP_LINE, STEP_LINE + "    timeout: {until: form.phone, go: done}\n"), 16,
     "step 'review' timeout: 'timeout' must give a date: 'form.phone' is a phone field"),
    ("timer until a calculation", add_step("  wait: {kind: timer, name: 等待, "
                                           "until: 'form.amount + 1', next: done}\n"), 15,
     "'until' must give a date: write a date field (form.<field>), a record's date"),
    ("publicity duration", add_step("  notice: {kind: publicity, name: 公示, "
                                    "next: {passed: done, objected: done}}\n"), 15,
     "publicity steps need 'duration'"),
    ("publicity objected", add_step("  notice: {kind: publicity, name: 公示, duration: 3wd, "
                                    "next: {passed: done}}\n"), 15,
     "say where 'objected' goes (next.objected:"),
    # ------------------------------------------------------------------ forms
    ("form unknown key", edit("  form:\n", "  form:\n    colour: red\n    fields:\n")
     .replace("    - {name: ", "      - {name: "), 6, "start form: unknown key 'colour'"),
    ("fields not list", edit("  form:\n", "  form: {fields: 5}\n  old_form:\n"), 5,
     "start form: the fields must be a list"),
    ("duplicate field", add_field("{name: amount, type: integer, label: 又一个}"), 9,
     "duplicate field name 'amount' (first at line 6)"),
    ("field in two forms", add_step_keys("    form: [{name: amount, type: integer, "
                                         "label: 金额}]\n"), 15,
     "field 'amount' is already defined in the start form (line 6)"),
    ("field not mapping", add_field("amount"), 9, "each field must be a mapping"),
    ("field name", add_field("{name: Amount, type: integer, label: 金额}"), 9,
     "field name 'Amount' must be lower-case"),
    ("unknown field type", add_field("{name: cost, type: money, label: 金额}"), 9,
     "unknown field type 'money' (known: boolean, choice, date"),
    ("option not for type", add_field("{name: cost, type: integer, label: 金额, "
                                      "accept: x}"), 9,
     "option 'accept' does not apply to integer fields"),
    ("label missing", add_field("{name: cost, type: integer}"), 9, "'label' is required"),
    ("label not text", add_field("{name: cost, type: integer, label: [a]}"), 9,
     "'label' must be text"),
    ("required not bool", add_field("{name: cost, type: integer, label: 金额, required: yes"
                                    "please}"), 9, "'required' must be true, false or a list of the actions"),
    ("bad default", add_field("{name: cost, type: integer, label: 金额, default: abc}"), 9,
     "the default is not a valid value (Enter a whole number)"),
    ("show_if unknown", add_field("{name: cost, type: integer, label: 金额, show_if: "
                                  "'form.nope > 1'}"), 9,
     "show_if refers to unknown field 'form.nope'"),
    ("show_if self", add_field("{name: cost, type: integer, label: 金额, show_if: "
                               "'form.cost > 1'}"), 9, "show_if may not depend on the field itself"),
    ("show_if syntax", add_field("{name: cost, type: integer, label: 金额, show_if: "
                                 "'form.amount >'}"), 9, "'show_if': syntax error"),
    ("max_length", add_field("{name: note, type: text, label: 备注, max_length: 0}"), 9,
     "'max_length' must be a whole number of at least 1"),
    ("lengths crossed", add_field("{name: note, type: text, label: 备注, min_length: 9, "
                                  "max_length: 3}"), 9, "min_length is larger than max_length"),
    ("bad pattern", add_field("{name: note, type: text, label: 备注, pattern: '('}"), 9,
     "'pattern' is not a valid regular expression"),
    ("whole min", add_field("{name: cost, type: integer, label: 金额, min: 1.5}"), 9,
     "'min' must be a whole number"),
    ("decimal min", add_field("{name: cost, type: decimal, label: 金额, min: abc}"), 9,
     "'min' must be a number"),
    ("range crossed", add_field("{name: cost, type: integer, label: 金额, min: 9, max: 3}"), 9,
     "min is larger than max"),
    ("bad date bound", add_field("{name: day, type: date, label: 日期, min: '2025-13-01'}"), 9,
     "'min' must be an ISO date like 2025-05-01"),
    ("dates crossed", add_field("{name: day, type: date, label: 日期, min: 2025-06-01, "
                                "max: 2025-05-01}"), 9, "min is later than max"),
    ("year bound for a date", add_field("{name: day, type: date, label: 日期, "
                                        "max: this_year}"), 9,
     "'max': this_year does not apply here (use today)"),
    ("day bound for a year", add_field("{name: year, type: integer, label: 年份, max: today}"),
     9, "'max': today does not apply here (use this_year)"),
    ("relative bounds crossed", add_field("{name: year, type: integer, label: 年份, "
                                          "min: this_year, max: this_year - 1}"), 9,
     "min is larger than max"),
    ("picks crossed", add_field("{name: pick, type: multichoice, label: 选, choices: [a, b], "
                                "min: 2, max: 1}"), 9, "min is larger than max"),
    ("no choices", add_field("{name: pick, type: choice, label: 选}"), 9,
     "a choice field needs 'choices'"),
    ("choices wrong type", add_field("{name: pick, type: choice, label: 选, choices: 5}"), 9,
     "'choices' must be a mapping {value: label} or a list"),
    ("duplicate choice", add_field("{name: pick, type: choice, label: 选, choices: [a, a]}"), 9,
     "duplicate choice 'a'"),
    ("choice without value", add_field("{name: pick, type: choice, label: 选, choices: "
                                       "[{label: 甲}]}"), 9, "each choice needs a text value"),
    ("choice without label", add_field("{name: pick, type: choice, label: 选, choices: "
                                       "{a: [1]}}"), 9, "choice 'a' needs a text label"),
    ("bad accept", add_field("{name: photo, type: file, label: 照片, accept: images}"), 9,
     "'accept' must list MIME types like image/*"),
    ("bad max_size", add_field("{name: photo, type: file, label: 照片, max_size: 5 parsecs}"),
     9, "'max_size' must be a size like 5MB"),
    ("unit_kinds shape", add_field("{name: unit, type: org_unit, label: 单位, unit_kinds: 5}"),
     9, "'unit_kinds' must be a list of unit kinds"),
    ("unit_kinds unknown", add_field("{name: unit, type: org_unit, label: 单位, "
                                     "unit_kinds: [planet]}"), 9, "unknown unit kind(s) planet"),
    ("within not text", add_field("{name: unit, type: org_unit, label: 单位, within: [a]}"),
     9, "'within' must be a unit target like form.station.district"),
    ("within unknown field", add_field("{name: unit, type: org_unit, label: 单位, "
                                       "within: form.nope.district}"), 9,
     "start form field 'unit' within: unknown unit target 'form.nope.district'"),
    ("within not a unit field", add_field("{name: unit, type: org_unit, label: 单位, "
                                          "within: form.amount}"), 9,
     "field 'amount' is of type integer; a unit target needs an org_unit or station field"),
    ("within itself", add_field("{name: unit, type: org_unit, label: 单位, "
                                "within: form.unit.district}"), 9,
     "a field cannot be limited by its own value"),
    ("within never holds the kinds", add_step_keys(
        "    form: [{name: unit, type: org_unit, label: 单位, unit_kinds: [city], "
        "within: form.station.district}]\n"), 15,
     "no city unit can lie within 'form.station.district' (a district)"),
    ("within a field of the same form", add_field(
        "{name: unit, type: org_unit, label: 单位, within: form.station.district}"), 9,
     "'form.station.district' must be a start-form field limiting a step's field"),
    ("within a later step's field", add_step_keys(
        "    form: [{name: unit, type: org_unit, label: 单位, within: form.area},\n"
        "           {name: area, type: org_unit, label: 范围}]\n"), 15,
     "'form.area' must be a start-form field limiting a step's field"),
    ("within on a station field", add_field("{name: near, type: station, label: 驿站2, "
                                            "within: applicant.district}"), 9,
     "option 'within' does not apply to station fields"),
    ("record source missing", add_field("{name: batch, type: record, label: 批次}"), 9,
     "'source' is required"),
    ("record source bad", add_field("{name: batch, type: record, label: 批次, "
                                    "source: 'Batch!'}"), 9, "'source' must be a short name"),
    ("record source unknown", add_field("{name: school, type: record, label: 学校, "
                                        "source: school}"), 9,
     "unknown record source 'school' (known: course (training course), retreat_batch"),
    ("rules not list", field_rules("      x\n"), 10, "rules must be a list"),
    ("rule not mapping", field_rules("      - x\n"), 11, "each rule must be a mapping"),
    ("rule unknown key", field_rules("      - {check: 'form.amount > 1', message: 太小, "
                                     "colour: red}\n"), 11, "rule: unknown key 'colour'"),
    ("rule field unknown", field_rules("      - {check: 'form.amount > 1', message: 太小, "
                                       "field: nope}\n"), 11,
     "rule: field 'nope' is not in this form"),
    ("rule name unknown", field_rules("      - {check: 'form.nope > 1', message: 太小}\n"), 11,
     "rule: refers to unknown field 'form.nope'"),
    ("rule check missing", field_rules("      - {message: 太小}\n"), 11, "'check' is required"),
    ("rule message missing", field_rules("      - {check: 'form.amount > 1'}\n"), 11,
     "'message' is required"),
    # ------------------------------------------------------------------ fields not asked yet
    ("start rule reads a step's field", START_RULE_LATER,
     line_of(START_RULE_LATER, "      - {check"),
     "start form rule: 'form.note' is a field of step 'review', filled in later"),
    ("start show_if reads a step's field", add_field(
        "{name: extra, type: text, label: 补充, show_if: \"form.note == 'x'\"}")
     .replace(STEP_LINE, STEP_LINE + NOTE), 9,
     "field 'extra' show_if: 'form.note' is a field of step 'review'"),
    ("start check reads a step's field", LATER_NOTE.replace(
        "  who:", "  checks: [{check: 'form.note != null', message: 缺}]\n  who:"), 4,
     "start checks check: 'form.note' is a field of step 'review'"),
    ("unique reads a step's field", LATER_NOTE.replace("  who:", "  unique: 'n:{form.note}'\n"
                                                       "  who:"), 4,
     "start unique: 'form.note' is a field of step 'review'"),
    ("branch reads a later step's field", CHOOSE_LATER, line_of(CHOOSE_LATER, "      - {when"),
     "step 'choose' branch 'when': 'form.grade' is filled in at step 'later', which no route "
     "passes before this point"),
    ("approvers named by their own form", add_step_keys(
        "    form: [{name: unit, type: org_unit, label: 单位}]\n").replace(
        "of: applicant}", "of: form.unit}"), 13,
     "step 'review' approvers: 'form.unit' is filled in at step 'review'"),
    ("timeout until a date of its own form", add_step_keys(
        "    form: [{name: due, type: date, label: 期限}]\n"
        "    timeout: {until: form.due, go: done}\n"), 16,
     "step 'review' timeout: 'form.due' is filled in at step 'review'"),
    # ------------------------------------------------------------------ choices compared
    ("show_if with a value that is no choice", read_grade("form.grade == 'freshmen'"), 10,
     "field 'extra' show_if: 'form.grade' has no choice 'freshmen', so the comparison never "
     "holds (its values: freshman, sophomore)"),
    ("show_if with a label", read_grade("form.grade != '大一新生'"), 10,
     "'大一新生' is the label of choice 'freshman' of 'form.grade'; conditions compare "
     "values: write 'freshman'"),
    ("show_if with an English label", read_grade("form.grade in ['freshman', 'Second year']"),
     10, "'Second year' is the label of choice 'sophomore'"),
    ("show_if with a multichoice", add_field(f"{SKILLS}\n    - {{name: extra, type: text, "
                                             "label: 补充, show_if: \"'law' in form.skills\"}"),
     10, "'form.skills' has no choice 'law'"),
    ("branch with a value that is no choice", add_field(GRADE).replace(STEP_LINE, (
        "    next: choose\n")).replace("ends:\n", (
            "  choose:\n    kind: decision\n    name: 分支\n    branches:\n"
            "      - {when: \"form.grade == 'senior'\", go: done}\n    default: done\n"
            "ends:\n")), 20, "step 'choose' branch 'when': 'form.grade' has no choice 'senior'"),
    # ------------------------------------------------------------------ title
    # action_labels: what an approval's buttons say; reason_field: a rejection's reason
    ("action_labels not a mapping", add_step_keys("    action_labels: [approve]\n"), 15,
     "'action_labels' must map some of the step's actions to {label, label_en}"),
    ("action_labels unknown action", add_step_keys(
        "    actions: [approve, reject]\n    action_labels:\n"
        "      return: {label: 退回}\n"), 17,
     "step 'review' action_labels return: 'return' is not one of the step's actions "
     "(approve, reject)"),
    ("action_labels without label", add_step_keys(
        "    action_labels:\n      reject: {label_en: Withdraw}\n"), 16,
     "step 'review' action_labels reject: 'label' is required: the words on the button"),
    ("action_labels unknown key", add_step_keys(
        "    action_labels:\n      reject: {label: 取消, colour: red}\n"), 16,
     "action_labels reject: unknown key(s) colour (known: label, label_en)"),
    ("reason_field not a field", add_step_keys(
        "    form_on: [approve, reject]\n    reason_field: findings\n" + FINDING), 16,
     "'reason_field': 'findings' is not a field of the step's form (its fields: finding)"),
    ("reason_field not sent with reject", add_step_keys(
        "    reason_field: finding\n" + FINDING), 15,
     "'reason_field': 'finding' must be sent and required with reject"),
    ("reason_field not required to reject", add_step_keys(
        "    form_on: [approve, reject]\n    reason_field: note\n"
        "    form: [{name: note, type: textarea, label: 结论, required: [approve]}]\n"), 16,
     "'reason_field': 'note' must be sent and required with reject"),
    ("reason_field without reject", add_step_keys(
        "    actions: [approve, return]\n    reason_field: finding\n" + FINDING), 16,
     "'reason_field' gives a rejection its reason, but the step does not allow reject"),
    ("title unknown field", edit("start:\n", "title: '{nope} · {station}'\nstart:\n"), 3,
     "title: '{nope}' is not a field of the start form; known: amount, station, course"),
    ("title step field", add_step_keys("    form: [{name: note, type: text, label: 意见}]\n")
     .replace("start:\n", "title: '{form.note}'\nstart:\n"), 3,
     "'{form.note}' is not a field of the start form (it is a step's field"),
    ("title personal data", add_field("{name: phone, type: phone, label: 电话}")
     .replace("start:\n", "title: '{amount} {phone}'\nstart:\n"), 3,
     "title: '{phone}' is personal data"),
    ("title private field", add_field("{name: who, type: text, label: 姓名, private: true}")
     .replace("start:\n", "title: '{who}'\nstart:\n"), 3, "title: '{who}' is personal data"),
    ("title not text", edit("start:\n", "title: [amount]\nstart:\n"), 3,
     "'title' must be text naming start-form fields"),
]


@pytest.mark.parametrize("text, line, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_problem_is_reported_with_its_line(text, line, words):
    spec, problems = load_text(text, "demo.yaml")
    assert spec is None
    where = "demo.yaml:" if line is None else f"demo.yaml:{line}: "
    matching = [str(p) for p in problems if words in p.message]
    assert matching, f"{words!r} not in {[str(p) for p in problems]}"
    assert any(m.startswith(where) for m in matching), matching


def test_base_is_valid():
    spec, problems = load_text(BASE, "demo.yaml")
    assert problems == [] and spec is not None


def test_every_problem_is_reported_at_once():
    text = (edit("kind: approval", "kind: approval\n    mode: most")
            .replace("role: unit_admin", "role: boss").replace("  done: completed",
                                                               "  done: finished"))
    _, problems = load_text(text, "demo.yaml")
    messages = " | ".join(p.message for p in problems)
    for words in ("unknown approval mode 'most'", "unknown role 'boss'",
                  "unknown status 'finished'"):
        assert words in messages


def test_problem_reads_like_a_compiler_message():
    _, problems = load_text(edit("kind: approval", "kind: aproval"), "micro_wish.yaml")
    assert str(problems[0]).startswith("micro_wish.yaml:11: step 'review': unknown step kind")


def test_unreadable_file(tmp_path):
    from workflows.loader import load_file
    spec, problems = load_file(tmp_path / "missing.yaml")
    assert spec is None and "cannot read the file" in problems[0].message


def test_who_may_start_cannot_depend_on_the_form():
    text = edit("who: {role: worker}", "who: {role: volunteer, within: form.station.paired}")
    _, problems = load_text(text, "demo.yaml")
    assert "demo.yaml:4: start who: cannot depend on the form" in [str(p)[:49] for p in problems]


def test_named_units_are_checked_against_the_organisation(directory):
    from workflows.loader import check_units
    text = edit("{role: unit_admin, of: applicant}", "{role: city_admin, of: {code: cq}}")
    spec, problems = load_text(text, "demo.yaml")
    assert problems == [] and check_units(spec, directory) == []
    spec, _ = load_text(text.replace("code: cq", "code: cq.nowhere"), "demo.yaml")
    assert [str(p) for p in check_units(spec, directory)] == [
        "demo.yaml:13: there is no unit with code 'cq.nowhere'"]


def test_a_title_names_start_form_fields_with_or_without_form():
    spec, problems = load_text(edit("start:\n", "title: '{amount} · {form.station}'\nstart:\n"),
                               "demo.yaml")
    assert problems == [] and spec.title_fields == ("amount", "station")


def test_a_field_asked_on_some_route_before_is_not_refused():
    # The branch reads the later step's grade, but the later step leads back to it:
    # on the second pass the grade has a value.
    looped = CHOOSE_LATER.replace("next: done,\n          form: [{name: grade",
                                  "next: choose,\n          form: [{name: grade")
    assert load_text(looped, "demo.yaml")[1] == []
    # A step that the review returns to reads the review's note once it came back.
    returned = edit("  review:\n", "  check:\n    kind: approval\n    name: 初核\n"
                    "    approvers: {role: unit_admin, of: applicant}\n"
                    "    form: [{name: extra, type: text, label: 补充, show_if: \"form.note == 'x'\"}]\n"
                    "    next: review\n  review:\n").replace(STEP_LINE, "    return_to: [check]\n"
                                                            + STEP_LINE + NOTE)
    assert load_text(returned, "demo.yaml")[1] == []
    # A step's own form may read its own fields, and a later step an earlier step's.
    own = add_step_keys("    form: [{name: note, type: text, label: 意见},\n"
                        "           {name: more, type: text, label: 补充, "
                        "show_if: \"form.note == 'x'\"}]\n")
    assert load_text(own, "demo.yaml")[1] == []


def test_a_choice_compared_with_its_values_or_nothing_is_not_refused():
    for condition in ("form.grade == 'freshman'", "form.grade != null",
                      "form.grade in ['freshman', 'sophomore']", "'freshman' == form.grade",
                      "len(form.grade) > 3", "form.grade == form.amount"):
        assert load_text(read_grade(condition), "demo.yaml")[1] == [], condition
    numbered = add_field("{name: level, type: choice, label: 级, choices: ['1', '2']}\n"
                         "    - {name: extra, type: text, label: 补充, show_if: 'form.level == 2'}")
    assert load_text(numbered, "demo.yaml")[1] == []  # "2" and 2 are equal in conditions


def test_full_width_punctuation_is_named_in_chinese_at_its_line():
    _, problems = load_text(edit("    name: 审核\n", "    name：审核\n"), "demo.yaml")
    assert [(p.line, p.text("zh")) for p in problems] == [
        (12, "用了中文冒号“：”（在“name”之后），请改成英文冒号“:”（name: …）")]
    _, problems = load_text(add_field("{name: extra, type: text, label: 补充, "
                                      "show_if: “form.amount > 1”}"), "demo.yaml")
    assert "条件里用了中文引号 “ （第 1 列），请改成英文引号 ' 或 \"" in problems[0].text("zh")


def test_full_width_punctuation_in_words_is_left_alone():
    text = edit("name: 演示\n", "name: 演示\ndescription: |\n  注意：先核实\n  note：文字\n"
                "description_en: 'note：words'\n").replace(
        "{name: amount, type: integer, label: 金额}",
        "{name: amount, type: integer, label: 金额：元, show_if: \"form.station != '（无）'\"}")
    assert load_text(text, "demo.yaml")[1] == []


def test_a_wrong_role_is_not_followed_by_an_escalation_problem():
    text = edit("role: unit_admin", "role: unit_admim").replace(
        STEP_LINE, STEP_LINE + "    sla: {escalate_after: 2d}\n")
    _, problems = load_text(text, "demo.yaml")
    assert [p.message for p in problems] == [
        "step 'review' approvers: unknown role 'unit_admim' (known: " + problems[0].message
        .split("(known: ")[1]]


def test_a_step_written_twice_is_named_first():
    # YAML keeps the second notice, which leads back: the review (line 10) then seems to
    # have no way to an end — a consequence, named after its cause.
    text = edit(STEP_LINE, "    actions: [approve]\n    next: notice\n").replace("ends:\n", (
        "  notice: {kind: task, name: 通知, assignee: applicant, next: done}\n"
        "  notice: {kind: task, name: 又一个, assignee: applicant, next: review}\nends:\n"))
    _, problems = load_text(text, "demo.yaml")
    assert any(p.line == 10 for p in problems)
    assert problems[0].message.startswith("duplicate key 'notice' (first at line 16)")
    assert problems[0].text("zh").startswith("“notice”重复了")


def test_ends_without_their_line_are_said_to_be_ends():
    _, problems = load_text(edit("ends:\n", ""), "demo.yaml")
    messages = [str(p) for p in problems]
    assert messages[0].startswith("demo.yaml:1: 'ends' is required")
    assert "demo.yaml:15: 'done' looks like an end (status completed) but is read as a " \
           "step: is the line 'ends:' missing above it?" in messages
    assert not [m for m in messages if "must be a mapping" in m or "kind" in m]


def test_form_on_and_required_per_action_are_read():
    """``required: true`` is required with every action in ``form_on``; a list naming
    some of them only is kept as such, one naming all of them reads as plain true."""
    spec, problems = load_text(add_step_keys(
        "    form_on: [reject, approve]\n    form:\n"
        "      - {name: finding, type: textarea, label: 结论, required: true}\n"
        "      - {name: granted, type: integer, label: 核定金额, required: [approve]}\n"
        "      - {name: both, type: text, label: 说明, required: [approve, reject]}\n"
        "      - {name: note, type: text, label: 备注}\n"), "demo.yaml")
    assert problems == []
    review = spec.step("review")
    assert review.config.form_on == ("approve", "reject")
    fields = {f.name: (f.required, f.required_on) for f in review.form.fields}
    assert fields == {"finding": (True, ()), "granted": (False, ("approve",)),
                      "both": (True, ()), "note": (False, ())}
    on_reject = review.form.for_action("reject")
    assert [f.name for f in on_reject.fields if f.required] == ["finding", "both"]
    assert [f.name for f in review.form.for_action("approve").fields if f.required] == [
        "finding", "granted", "both"]


def test_an_approval_without_form_on_takes_its_form_when_approving_as_before():
    spec, problems = load_text(add_step_keys(NOTE), "demo.yaml")
    assert problems == [] and spec.step("review").config.form_on == ("approve",)


def test_the_objection_review_takes_its_finding_with_both_decisions(shipped):
    review = shipped("retreat_nomination").step("objection_review")
    assert review.config.form_on == ("approve", "reject")
    assert review.form.field("objection_finding").required


def test_action_labels_and_reason_field_are_read_and_refused_in_chinese_too():
    spec, problems = load_text(add_step_keys(
        "    actions: [approve, reject]\n    form_on: [approve, reject]\n"
        "    reason_field: finding\n    action_labels:\n"
        "      approve: {label: 异议不成立，继续推荐, label_en: Objection not upheld}\n"
        "      reject: 异议成立，取消推荐\n" + FINDING), "demo.yaml")
    assert problems == []
    config = spec.step("review").config
    assert config.reason_field == "finding"
    assert config.action_label("approve") == "异议不成立，继续推荐"
    assert config.action_label("approve", "en") == "Objection not upheld"
    assert config.action_label("reject", "en") == "异议成立，取消推荐"  # no label_en: the label
    assert config.action_label("return") is None
    _, problems = load_text(add_step_keys(
        "    actions: [approve, reject]\n    action_labels: {return: {label: 退回}}\n"),
        "demo.yaml")
    assert [p.message_zh for p in problems if "action_labels" in p.message] == [
        "环节“review”的 action_labels 里的 return：“return”不是本环节允许的操作"
        "（actions：approve、reject）"]


def test_a_step_may_describe_itself_in_english_too():
    spec, problems = load_text(add_step_keys(
        "    description: 请核对材料。\n    description_en: Check the papers.\n"), "demo.yaml")
    assert problems == []
    review = spec.step("review")
    assert (review.describe(), review.describe("en")) == ("请核对材料。", "Check the papers.")
