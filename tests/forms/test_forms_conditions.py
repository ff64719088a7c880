"""Fields shown only when their condition holds, and rules across fields."""
from __future__ import annotations

import pytest

from forms import validate_data
from workflows.fields import parse_form

DEMAND = [
    {"name": "category", "type": "choice", "label": "诉求类别", "required": True,
     "choices": {"parking": "停车难", "charging": "充电难", "other": "其他"}},
    {"name": "other_text", "type": "text", "label": "请说明", "label_en": "Please explain",
     "required": True, "show_if": "form.category == 'other'"},
    {"name": "vehicles", "type": "integer", "label": "车辆数", "min": 1,
     "show_if": "form.category == 'parking'"},
    {"name": "vehicle_photo", "type": "text", "label": "车牌",
     "show_if": "form.vehicles > 3"},
]


@pytest.fixture
def demand(make_spec):
    return make_spec(DEMAND)


def test_a_hidden_field_is_neither_required_nor_kept(submit, demand):
    form = submit(demand, {"category": "charging", "other_text": "", "vehicles": "junk"})
    assert form.errors == {}
    assert form.clean_data() == {"category": "charging"}


def test_a_shown_field_is_validated_and_kept(submit, demand):
    form = submit(demand, {"category": "other", "other_text": ""}, locale="en")
    assert form.errors == {"other_text": ["This field is required."]}
    form = submit(demand, {"category": "other", "other_text": "路边没有遮阳棚"})
    assert form.errors == {}
    assert form.clean_data() == {"category": "other", "other_text": "路边没有遮阳棚"}


def test_conditions_chain(submit, demand):
    shown = submit(demand, {"category": "parking", "vehicles": "5", "vehicle_photo": "渝A"})
    assert shown.clean_data() == {"category": "parking", "vehicles": 5, "vehicle_photo": "渝A"}
    # vehicles is hidden, so the field that depends on it is hidden as well.
    hidden = submit(demand, {"category": "charging", "vehicles": "5", "vehicle_photo": "渝A"})
    assert hidden.clean_data() == {"category": "charging"}


def test_the_api_hides_the_same_fields(demand):
    clean, errors = validate_data(demand, {"category": "charging", "other_text": ["wrong"],
                                           "vehicles": "junk"})
    assert (clean, errors) == ({"category": "charging"}, {})


def test_a_step_form_condition_may_read_the_start_form(submit):
    spec, problems = parse_form([{"name": "receipt", "type": "text", "label": "收据号",
                                  "required": True, "show_if": "start.category == 'goods'"}],
                                known_names={"start.category"})
    assert not problems
    needed = submit(spec, {}, context={"start": {"category": "goods"}})
    assert needed.errors == {"receipt": ["此项为必填项。"]}
    not_needed = submit(spec, {}, context={"start": {"category": "service"}})
    assert not_needed.errors == {} and not_needed.clean_data() == {}


PERIOD = [
    {"name": "start", "type": "date", "label": "开始日期", "required": True},
    {"name": "end", "type": "date", "label": "结束日期", "required": True},
    {"name": "people", "type": "integer", "label": "人数"},
]
END_AFTER_START = {"check": "form.end >= form.start", "message": "结束日期不能早于开始日期",
                   "message_en": "The end date cannot be before the start date", "field": "end"}
WHOLE_FORM = {"check": "form.people == null or form.people <= 10",
              "message": "每次最多 10 人"}


@pytest.mark.parametrize("locale, message", [
    ("zh_CN", "结束日期不能早于开始日期"),
    ("en", "The end date cannot be before the start date"),
])
def test_a_broken_rule_is_reported_on_its_field(make_spec, submit, locale, message):
    spec = make_spec(PERIOD, [END_AFTER_START])
    form = submit(spec, {"start": "2025-05-02", "end": "2025-05-01"}, locale=locale)
    assert form.errors == {"end": [message]}
    assert submit(spec, {"start": "2025-05-01", "end": "2025-05-01"}).errors == {}


def test_a_rule_without_a_field_is_a_form_error_in_english_even_without_a_translation(
        make_spec, submit):
    spec = make_spec(PERIOD, [WHOLE_FORM])
    data = {"start": "2025-05-01", "end": "2025-05-02", "people": "12"}
    assert submit(spec, data).errors == {"": ["每次最多 10 人"]}
    assert submit(spec, data, locale="en").errors == {
        "": ["These answers do not fit together; please check them."]}
    assert validate_data(spec, {**data, "people": 12}) == ({}, {"": ["每次最多 10 人"]})


def test_rules_wait_until_every_field_is_readable(make_spec, submit):
    spec = make_spec(PERIOD, [END_AFTER_START])
    form = submit(spec, {"start": "2025-05-02", "end": "soon"})
    assert form.errors == {"end": ["请输入日期，如 2025-05-01。"]}
