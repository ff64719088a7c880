"""Input nobody should send still gets a typed answer, never a traceback.

Definitions from an administrator, form data from a person and action arguments from a
client are all untrusted: each case below once raised KeyError, TypeError, ValueError,
RecursionError or decimal.Overflow, or let something through it should not.
"""
from __future__ import annotations

import copy
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflows import expr
from workflows.engine import SYSTEM, Action, act, start
from workflows.errors import (InvalidInput, NotAllowed, StateError, WorkflowError)
from workflows.fields import DEFAULT_ACCEPT, FieldSpec, parse_form
from workflows.loader import load_text, spec_digest
from workflows.state import InstanceState
from workflows.values import clean_form, clean_value
from workflows.yamlio import plain

DEFINITIONS = Path(__file__).resolve().parents[2] / "workflows" / "definitions"
WISH = {"title": "头盔", "category": "goods", "story": "头盔坏了需要新的一个", "station": 5,
        "contact_name": "张三", "phone": "13800138000"}
PNG = {"key": "k1", "name": "a.png", "mime": "image/png", "size": 10}


def one(type_: str, **options) -> FieldSpec:
    form, problems = parse_form([{"name": "answer", "type": type_, "label": "答", **options}])
    assert problems == []
    return form.fields[0]


# ---------------------------------------------------------------------------- field options
@pytest.mark.parametrize("field", [
    {"type": "file"}, {"type": "file", "accept": None}, {"type": "file", "accept": []},
    {"type": "org_unit"}, {"type": "org_unit", "unit_kinds": None},
])
def test_left_out_options_take_their_defaults(field):
    form, problems = parse_form([{"name": "x", "label": "x", **field}])
    assert problems == []
    assert form.fields[0].accept == () and form.fields[0].unit_kinds == ()


def test_a_file_field_without_accept_takes_photos_and_pdf_only():
    spec = one("file")
    assert spec.accepted == DEFAULT_ACCEPT == ("image/*", "application/pdf")
    assert clean_value(spec, PNG) == (PNG, [])
    pdf = {**PNG, "name": "a.pdf", "mime": "application/pdf"}
    assert clean_value(spec, pdf)[1] == []
    exe = {**PNG, "name": "a.exe", "mime": "application/x-msdownload"}
    assert clean_value(spec, exe) == (None, [("文件类型不允许", "This type of file is not allowed")])


def test_accept_by_extension_matches_the_stored_name():
    spec = one("file", accept=".pdf")
    assert clean_value(spec, {**PNG, "name": "scan.PDF", "mime": "application/pdf"})[1] == []
    assert clean_value(spec, PNG)[1] == [("文件类型不允许", "This type of file is not allowed")]


def test_a_file_record_keeps_only_its_own_keys():
    deep: list = []
    for _ in range(3000):  # would break freeze()/to_dict() with RecursionError
        deep = [deep]
    value, errors = clean_value(one("file"), {**PNG, "sha256": "ab", "extra": deep})
    assert errors == [] and value == {**PNG, "sha256": "ab"}
    assert clean_value(one("file"), {"id": {"a": 1}})[1] == [("文件无效", "Not a valid file")]


def test_a_date_bound_written_as_a_yaml_datetime_is_a_date():
    spec = one("date", min=datetime(2025, 5, 1, 10, 0))
    assert spec.min == "2025-05-01"
    assert clean_value(spec, "2025-06-01") == ("2025-06-01", [])


# ---------------------------------------------------------------------------- values
CHOOSE = [("请选择", "Please choose one")]


@pytest.mark.parametrize("raw, expected", [
    ("5", (5, [])), (" 15 ", (15, [])), (7, (7, [])), ("st-jiefangbei.1", ("st-jiefangbei.1", [])),
    ("²", (None, CHOOSE)), ("١٢", (None, CHOOSE)), ("5 6", (None, CHOOSE)), ([5], (None, CHOOSE)),
    ("<script>", (None, CHOOSE)),
])
def test_references_are_ids(raw, expected):
    assert clean_value(one("station"), raw) == expected


WHOLE = [("请输入整数", "Enter a whole number")]


@pytest.mark.parametrize("raw", [float("inf"), float("nan"), Decimal("Infinity"),
                                 Decimal("sNaN"), Decimal("1.5"), "١٢", "²", 10 ** 18],
                         ids=["inf", "nan", "Dinf", "sNaN", "1.5", "arabic", "sup2", "1e18"])
def test_integers_that_are_not_whole_numbers(raw):
    assert clean_value(one("integer"), raw) == (None, WHOLE)


@pytest.mark.parametrize("raw, expected", [(5.0, 5), (Decimal("12"), 12), ("-3", -3)])
def test_integers_from_other_number_types(raw, expected):
    assert clean_value(one("integer"), raw) == (expected, [])


@pytest.mark.parametrize("type_", ["text", "textarea", "integer", "decimal", "date",
                                   "datetime", "boolean", "phone", "id_card", "email",
                                   "station", "file"])
@pytest.mark.parametrize("raw", [10 ** 5000, {"a": 10 ** 5000}, [10 ** 5000]],
                         ids=["int", "in-mapping", "in-list"])
def test_numbers_too_long_for_text_are_field_errors(type_, raw):
    value, errors = clean_value(one(type_), raw)
    assert value is None and errors


def test_choices_refuse_numbers_too_long_for_text():
    spec = one("multichoice", choices=["a", "b"])
    assert clean_value(spec, ["a", 10 ** 5000])[0] is None


@pytest.mark.parametrize("type_, raw", [("phone", "13٨٠٠١٣٨٠٠٠"),
                                        ("id_card", "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X")])
def test_identifiers_are_ascii_digits(type_, raw):
    assert clean_value(one(type_), raw)[0] is None


def test_text_has_the_same_default_limit_as_the_forms():
    assert clean_value(one("text"), "x" * 200)[1] == []
    assert clean_value(one("text"), "x" * 201)[1] == [("最多 200 个字", "At most 200 characters")]
    assert clean_value(one("textarea"), "x" * 5001)[1]
    assert clean_value(one("text"), "a\x00b")[0] is None
    assert clean_value(one("textarea"), "a\ud800")[0] is None


# ---------------------------------------------------------------------------- conditions
def test_negating_a_huge_decimal_is_null_not_an_overflow():
    context = {"form": {"x": "1e999999999"}}
    assert expr.parse("-number(form.x)").evaluate(context) is None
    assert expr.parse("-form.x < 1").evaluate(context) is False


@pytest.mark.parametrize("source", ["form.__class__", "form.x.__dict__", "form._private",
                                    "form.__class__.__subclasses__()", "len.__self__"])
def test_python_internals_are_out_of_reach(source):
    with pytest.raises(expr.ExpressionError):
        expr.parse(source)


SEATS = """
key: seats
name: 座位
start:
  who: {{role: worker}}
  form: [{{name: seats, type: text, label: 座位数}}]
steps:
  seat: {{kind: reserve, name: 占座, resource: "room:{room}", capacity: "{capacity}",
         next: done}}
ends: {{done: completed}}
"""


def test_a_reserve_capacity_that_is_no_count_leaves_it_to_the_resource(inline, drive, directory):
    spec = inline(SEATS.format(room=1, capacity="form.seats"))
    directory.set_capacity("room:1", 1)
    for seats in ("²", "1e999999999", "-3"):  # "²".isdigit() is true; int("²") raised
        d = drive(spec).start("rider", {"seats": seats})
        assert d.status in ("completed", "waitlisted")


def test_a_reserve_capacity_may_be_a_decimal(inline, drive):
    spec = inline(SEATS.format(room=2, capacity="number(form.seats)"))
    first, second = (drive(spec).start(who, {"seats": "1"}) for who in ("rider", "welder"))
    assert (first.status, second.status) == ("completed", "waitlisted")


# ---------------------------------------------------------------------------- definitions
@pytest.mark.parametrize("text, words", [
    ("key: a\nn: " + "9" * 5000 + "\n", "cannot read the value '999"),
    ("key: a\nn: 2025-02-30\n", "cannot read the value '2025-02-30'"),
    ("key: a\nn: !!timestamp 2025-13-45\n", "cannot read the value '2025-13-45'"),
    ("key: a\x00\n", "unacceptable character"),
    ("---\n", "the file is empty"),
])
def test_yaml_that_cannot_be_read_is_a_problem(text, words):
    spec, problems = load_text(text, "x.yaml")
    assert spec is None and any(words in str(p) for p in problems), problems


def test_a_lone_surrogate_still_has_a_digest():
    assert len(spec_digest('key: "\\ud800"\n')) == 64


@pytest.mark.parametrize("old, new, words", [
    ("who: {role: worker}", "who: {role: {a: 1}}", "unknown role"),
    ("{name: station, type: station,", "{name: station, type: org_unit, unit_kinds: [{a: 1}],",
     "unknown unit kind"),
])
def test_mappings_where_names_belong_are_problems(old, new, words):
    text = (DEFINITIONS / "micro_wish.yaml").read_text(encoding="utf-8")
    assert old in text
    spec, problems = load_text(text.replace(old, new, 1), "x.yaml")
    assert spec is None and any(words in str(p) for p in problems), problems


_SHIPPED = [plain(yaml.safe_load(p.read_text(encoding="utf-8")))
            for p in sorted(DEFINITIONS.glob("*.yaml"))]
_ODD = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                 st.sampled_from(["²", "applicant.__class__", "form.x.parent", "1e999999999",
                                  "{form.nope}", date(2025, 2, 28), [], {}, [{}],
                                  {"role": {"a": 1}}, {"code": None}]))


def _paths(node, prefix=()):
    yield prefix
    items = node.items() if isinstance(node, dict) else \
        enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield from _paths(child, prefix + (key,))


def mutated_shipped(data) -> str:
    """A shipped definition with one to three values replaced by odd ones, as YAML."""
    definition = yaml.safe_load(yaml.safe_dump(data.draw(st.sampled_from(_SHIPPED))))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from([p for p in _paths(definition) if p]))
        parent = definition
        for key in path[:-1]:
            parent = parent[key]
        # A copy: the odd lists and mappings are shared by every example, and a later
        # replacement inside one placed here would change it for the rest of the run (and
        # could put a list inside itself).
        parent[path[-1]] = copy.deepcopy(data.draw(_ODD))
    return yaml.safe_dump(definition, allow_unicode=True, sort_keys=False)


class _Scripted:
    """Stands for hypothesis's `data`: hands out the given values in order."""

    def __init__(self, *values):
        self.values = list(values)

    def draw(self, strategy):
        return self.values.pop(0)


def test_a_mutation_leaves_the_odd_values_as_they_were_for_later_examples():
    odd = [{}]
    text = mutated_shipped(_Scripted(_SHIPPED[0], 2, ("key",), odd, ("key", 0), "replaced"))
    assert odd == [{}] and "replaced" in text


@settings(max_examples=50, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_shipped_definitions_give_problems_not_exceptions(data):
    spec, problems = load_text(mutated_shipped(data), "x.yaml")
    assert (spec is None) == bool(problems)


# ---------------------------------------------------------------------------- actions
@pytest.fixture
def wish(drive, shipped):
    return drive(shipped("micro_wish")).start("rider", WISH)


@pytest.mark.parametrize("arguments, field", [
    ({"task": ["t1"]}, "task"), ({"task": {"id": "t1"}}, "task"), ({"comment": 5}, "comment"),
    ({"comment": True}, "comment"), ({"data": ["x"]}, "data"), ({"to": ["applicant"]}, "to"),
    ({"user": ["head"]}, "user"), ({"timer": 1}, "timer"), ({"expected_version": "1"},
                                                          "expected_version"),
    ({"expected_version": True}, "expected_version"),
])
def test_arguments_of_the_wrong_type_are_invalid_input(wish, arguments, field):
    action = Action("approve", **{"task": wish.task().id, "comment": "好", **arguments})
    with pytest.raises(InvalidInput) as err:
        act(wish.spec, wish.state, action, "head", wish.now, wish.directory)
    assert err.value.code == "bad_argument" and field in err.value.field_errors


@pytest.mark.parametrize("kind", ["withdraw", "comment", "approve"])
def test_every_comment_is_bounded_and_storable(wish, kind):
    for comment, code in (("x" * 2001, "comment_too_long"), ("a\x00b", "bad_characters")):
        actor = "rider" if kind != "approve" else "head"
        with pytest.raises(InvalidInput) as err:
            wish.act(kind, actor, task=wish.task().id, comment=comment)
        assert err.value.code == code


def test_unknown_action_kinds_of_any_type(wish):
    for kind in (None, 5, ["approve"]):
        with pytest.raises(InvalidInput):
            act(wish.spec, wish.state, Action(kind), "head", wish.now, wish.directory)


PEOPLE = ["rider", "head", "vol1", "yz_admin", "padmin", "nobody", SYSTEM, None]
KINDS = ["approve", "reject", "return", "complete", "resubmit", "withdraw", "cancel",
         "delegate", "reassign", "claim", "unclaim", "comment", "object", "fire", "promote"]
JUNK = st.one_of(st.none(), st.sampled_from(["t1", "t2", "t3", "applicant", "verify", "", "²"]),
                 st.integers(), st.text(max_size=5), st.lists(st.none(), max_size=1),
                 st.dictionaries(st.sampled_from(["proof", "title", "rating"]), st.integers(),
                                 max_size=1))


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(steps=st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from(PEOPLE), JUNK, JUNK,
                                JUNK, JUNK, JUNK, JUNK), min_size=1, max_size=8))
def test_random_actions_with_random_arguments_are_refused_by_type(org_factory, shipped, steps):
    directory, spec = org_factory(), shipped("micro_wish")
    state, _ = start(spec, "rider", WISH, datetime(2025, 5, 5, 9), directory, instance_id=1)
    for kind, who, task, comment, data, to, user, timer in steps:
        action = Action(kind, task=task, comment=comment, data=data, to=to, user=user,
                        timer=timer)
        try:
            new, _ = act(spec, state, action, who, datetime(2025, 5, 5, 10), directory)
        except WorkflowError:
            continue
        assert not state.finished and new.version == state.version + 1
        state = new


def test_delegating_an_approval_to_the_applicant_is_refused(wish):
    wish.directory.grant("rider", "station_head", 5)  # the applicant also heads the station
    with pytest.raises(NotAllowed) as err:
        wish.do("delegate", "head", user="rider")
    assert err.value.code == "not_eligible"


def test_a_resubmission_cannot_move_the_place_or_the_unique_key(drive, shipped, directory):
    directory.add_record("retreat_batch", 2, ends_on="2025-08-01", year=2026)
    directory.set_capacity("retreat:2:7", 1)
    d = drive(shipped("retreat_nomination")).start("rider", {
        "batch": 1, "honour": "city", "id_card": "11010519491231002X", "phone": "13800138000",
        "health_ok": True, "deeds": "连续十年安全行驶无事故，带教新人三十余名。"})
    assert d.state.unique_key == "retreat-year:2025"
    d.do("return", "unit_admin", comment="请补充事迹")
    with pytest.raises(InvalidInput) as err:
        d.act("resubmit", "rider", data={"batch": 2})
    assert err.value.code == "fixed_field" and list(err.value.field_errors) == ["batch"]
    d.act("resubmit", "rider", data={"deeds": "连续十年安全行驶无事故，带教新人三十余名，获评市级劳模。"})
    assert d.current == ("unit_review",) and d.state.data["batch"] == 1


@pytest.mark.parametrize("key, value", [("tasks", [5]), ("claim", []), ("data", []),
                                        ("timers", ["x"]), ("history", [{"at": None}])])
def test_broken_saved_state_is_a_state_error(wish, key, value):
    raw = wish.state.to_dict()
    raw[key] = value
    with pytest.raises(StateError):
        InstanceState.from_dict(raw)


def test_form_data_from_anywhere_gives_field_errors(shipped):
    form = shipped("micro_wish").all_forms
    data = {name: value for name, value in zip(form.names, [
        10 ** 5000, {"x": [10 ** 5000]}, float("nan"), "²", Decimal("sNaN"), "\ud800",
        ["a", {"b": None}], datetime(2025, 1, 1), "1e999999999", b"bytes", -0.0, "x" * 6000])}
    cleaned, errors = clean_form(form, data)
    assert errors and all(isinstance(m, tuple) for ms in errors.values() for m in ms)


def test_timers_of_a_step_that_moved_on_change_nothing(wish):
    reminder = next(t.key for t in wish.state.timers if t.purpose == "remind")
    wish.do("approve", "head").act("claim", "vol1")
    timeout = next(t.key for t in wish.state.timers if t.purpose == "timeout")
    wish.do("complete", "vol1", data={"proof": PNG})
    before = wish.state
    for key in (reminder, timeout):
        with pytest.raises(WorkflowError) as err:
            wish.act("fire", SYSTEM, timer=key)
        assert err.value.code == "stale_timer" and wish.state is before
