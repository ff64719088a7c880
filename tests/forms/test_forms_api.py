"""``validate_data``: the JSON API goes through the very same fields as the web form."""
from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from forms import validate_data
from workflows.values import clean_form

WISH = [
    {"name": "title", "type": "text", "label": "心愿", "required": True, "max_length": 40},
    {"name": "category", "type": "choice", "label": "类别",
     "choices": {"goods": "物品", "service": "服务"}},
    {"name": "needs", "type": "multichoice", "label": "需要",
     "choices": {"water": "饮水", "charging": "充电"}},
    {"name": "rating", "type": "integer", "label": "评分", "min": 1, "max": 5},
    {"name": "budget", "type": "decimal", "label": "预算"},
    {"name": "wanted_by", "type": "date", "label": "期望日期"},
    {"name": "visit_at", "type": "datetime", "label": "上门时间"},
    {"name": "agree", "type": "boolean", "label": "同意公开"},
    {"name": "phone", "type": "phone", "label": "联系电话", "required": True},
    {"name": "email", "type": "email", "label": "邮箱"},
    {"name": "station", "type": "station", "label": "驿站"},
]
GOOD = {"title": "一辆旧自行车", "category": "goods", "needs": ["water"], "rating": 5,
        "budget": 99.5, "wanted_by": "2025-06-01", "visit_at": "2025-06-01T09:00:00+08:00",
        "agree": True, "phone": 13812345678, "email": "a@example.com", "station": 2}


@pytest.fixture
def wish(make_spec):
    return make_spec(WISH)


def test_good_json_is_cleaned(wish, stations):
    clean, errors = validate_data(wish, GOOD, choices=stations)
    assert errors == {}
    assert clean == {**GOOD, "budget": "99.5", "phone": "13812345678"}


def test_clean_data_is_what_the_engine_would_store(wish, stations):
    clean, _ = validate_data(wish, GOOD, choices=stations)
    assert clean_form(wish, clean) == (clean, {})


# (field, wrong JSON value, Chinese message, English message)
WRONG_TYPES = [
    ("title", ["一辆", "自行车"], "应为文本。", "Expected text."),
    ("title", {"text": "x"}, "应为文本。", "Expected text."),
    ("title", 42, "应为文本。", "Expected text."),
    ("rating", True, "应为数字。", "Expected a number."),
    ("rating", [5], "应为数字。", "Expected a number."),
    ("rating", "five", "请输入整数，如 12。", "Enter a whole number, e.g. 12."),
    ("rating", 4.5, "请输入整数，如 12。", "Enter a whole number, e.g. 12."),
    ("budget", {"amount": 1}, "应为数字。", "Expected a number."),
    ("budget", False, "应为数字。", "Expected a number."),
    ("agree", "yes", "应为 true 或 false。", "Expected true or false."),
    ("agree", 1, "应为 true 或 false。", "Expected true or false."),
    ("needs", "water", "应为多个值组成的列表。", "Expected a list of values."),
    ("needs", [{"value": "water"}], "应为选项中的一个值。", "Expected one of the option values."),
    ("category", True, "应为选项中的一个值。", "Expected one of the option values."),
    ("category", ["goods"], "应为选项中的一个值。", "Expected one of the option values."),
    ("wanted_by", 20250601, "应为文本。", "Expected text."),
    ("station", 2.0, "应为选项中的一个值。", "Expected one of the option values."),
    ("phone", None, "此项为必填项。", "This field is required."),
    ("nickname", "小李", "表单中没有此项。", "This form has no such field."),
]


@pytest.mark.parametrize("name, value, zh, en", WRONG_TYPES)
def test_wrong_json_types_get_a_clear_message(wish, stations, name, value, zh, en):
    data = {**GOOD, name: value}
    assert validate_data(wish, data, choices=stations) == ({}, {name: [zh]})
    assert validate_data(wish, data, locale="en", choices=stations) == ({}, {name: [en]})


@pytest.mark.parametrize("data", [None, [], "title=x", 42, [["title", "x"]]])
def test_data_that_is_not_an_object_is_refused(wish, data):
    assert validate_data(wish, data, locale="en") == (
        {}, {"": ["The form data must be a JSON object."]})


def test_a_file_for_a_field_that_takes_none(wish, stations, upload):
    _, errors = validate_data(wish, GOOD, choices=stations, files={"title": upload(b"x")})
    assert errors == {"title": ["此项不接受文件。"]}


# Answers a browser and an app might send for the same thing.
SAME_ANSWERS = [
    ({"title": "", "phone": "138"}, {"title": "", "phone": "138"}),
    ({"title": "x", "phone": "13812345678", "rating": "9"},
     {"title": "x", "phone": 13812345678, "rating": 9}),
    ({"title": "x" * 41, "phone": "13812345678", "category": "money"},
     {"title": "x" * 41, "phone": "13812345678", "category": "money"}),
    ({"title": "x", "phone": "13812345678", "wanted_by": "2025-02-30", "station": "9"},
     {"title": "x", "phone": "13812345678", "wanted_by": "2025-02-30", "station": 9}),
]


@pytest.mark.parametrize("browser, app_json", SAME_ANSWERS)
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_web_and_api_never_disagree(wish, stations, submit, locale, browser, app_json):
    form = submit(wish, MultiDict(browser), locale=locale)
    _, errors = validate_data(wish, app_json, locale=locale, choices=stations)
    assert errors == form.errors
    assert errors  # each of these answers has something wrong


def test_an_empty_form_with_nothing_sent_builds_no_form(monkeypatch):
    """Most approvals ask nothing and send nothing: clean and valid, without building
    the form's class; anything sent to such a form is still refused, field by field."""
    from forms import api
    from workflows.fields import FormSpec

    real = api.build_form_class
    monkeypatch.setattr(api, "build_form_class", lambda *a, **k: pytest.fail("built"))
    assert validate_data(FormSpec(), {}) == ({}, {})
    monkeypatch.setattr(api, "build_form_class", real)
    clean, errors = validate_data(FormSpec(), {"extra": 1})
    assert clean == {} and list(errors) == ["extra"]
    assert validate_data(FormSpec(), {}) == real_path(FormSpec())


def real_path(form_spec):
    """What the form itself says of no input: the shortcut must say the same."""
    from forms.api import FormInput, build_form_class

    form = build_form_class(form_spec)(formdata=FormInput())
    assert form.validate()
    return form.clean_data(), dict(form.errors)


@pytest.mark.parametrize("title", ["\u200b", "\u202e\u200b", "\ufeff", " \u2060\u00ad ",
                                   "\u2066\u2069"])
def test_a_required_text_of_invisible_characters_is_missing(wish, stations, title):
    clean, errors = validate_data(wish, {**GOOD, "title": title}, choices=stations)
    assert "title" in errors and "title" not in clean


def test_direction_overrides_are_taken_out_and_invisible_edges_trimmed(wish, stations):
    """An RLO in a title would turn the text after it around in every inbox."""
    clean, errors = validate_data(wish, {**GOOD, "title": "\u200b旧\u202e自行车\u2069\ufeff"},
                                  choices=stations)
    assert errors == {} and clean["title"] == "旧自行车"
    # A joiner inside an emoji stays: it is part of what was typed.
    clean, _ = validate_data(wish, {**GOOD, "title": "全家\U0001F468\u200d\U0001F469"},
                             choices=stations)
    assert clean["title"] == "全家\U0001F468\u200d\U0001F469"
