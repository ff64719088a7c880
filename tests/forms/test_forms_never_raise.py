"""Whatever arrives, in a browser post or as JSON, people get messages, never a traceback."""
from __future__ import annotations

import io
import json

from hypothesis import event, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage, MultiDict

from forms import Upload, build_form_class, describe_form, validate_data
from workflows.fields import parse_form
from workflows.values import clean_form

EVERY_TYPE = [
    {"name": "text", "type": "text", "label": "文本", "min_length": 2, "max_length": 10,
     "pattern": "[a-z0-9]+"},
    {"name": "textarea", "type": "textarea", "label": "多行", "required": True},
    {"name": "integer", "type": "integer", "label": "整数", "min": -10, "max": 10},
    {"name": "decimal", "type": "decimal", "label": "小数", "places": 2, "max": 1000},
    {"name": "date", "type": "date", "label": "日期", "min": "2000-01-01"},
    {"name": "datetime", "type": "datetime", "label": "时间"},
    {"name": "choice", "type": "choice", "label": "单选", "choices": {"a": "甲", "b": "乙"}},
    {"name": "multichoice", "type": "multichoice", "label": "多选", "max": 2,
     "choices": {"a": "甲", "b": "乙", "c": "丙"}},
    {"name": "boolean", "type": "boolean", "label": "同意"},
    {"name": "phone", "type": "phone", "label": "电话"},
    {"name": "id_card", "type": "id_card", "label": "身份证"},
    {"name": "email", "type": "email", "label": "邮箱", "show_if": "form.choice == 'a'"},
    {"name": "file", "type": "file", "label": "照片", "accept": "image/*", "max_size": 64},
    {"name": "org_unit", "type": "org_unit", "label": "单位", "unit_kinds": ["district"]},
    {"name": "station", "type": "station", "label": "驿站"},
    {"name": "slot", "type": "slot", "label": "时段"},
    {"name": "record", "type": "record", "label": "课程", "source": "course"},
]
RULES = [{"check": "form.integer == null or form.integer < 5", "message": "太大",
          "field": "integer"}]
SPEC, PROBLEMS = parse_form({"fields": EVERY_TYPE, "rules": RULES})
NAMES = [f["name"] for f in EVERY_TYPE]
OPTIONS = [("1", "一"), ("22", "二十二"), ("x", "叉")]


def provider(field_spec):
    return OPTIONS


# Any character at all, lone surrogates and NUL included.
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text
    | st.sampled_from(["a", "1", "22", "13812345678", "2025-05-01", "1.5", "1e999"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8)
files = st.builds(lambda content, name, mime: FileStorage(io.BytesIO(content), filename=name,
                                                           content_type=mime),
                  st.binary(max_size=80) | st.sampled_from([b"\x89PNG\r\n\x1a\n", b"%PDF-"]),
                  any_text | st.binary(max_size=20).map(lambda b: b.decode("latin-1")),
                  st.sampled_from(["image/png", "application/pdf", "", "text/html"]))
browser_values = st.lists(any_text | files | st.integers() | st.binary(max_size=5),
                          max_size=3)


# Mostly sensible answers with junk mixed in, so that many examples pass validation.
PLAUSIBLE = {
    "text": ["abc1", "ab"], "textarea": ["第一行\n第二行", " x "],
    "integer": [3, "4", "-10"], "decimal": ["12.50", 0.5, 999, "999.99"],
    "date": ["2025-05-01", "2000/1/1"], "datetime": ["2025-05-01T09:30", "2025-05-01 09:30Z"],
    "choice": ["a", "b"], "multichoice": [["a"], ["b", "c"], ["a", "a"]],
    "boolean": [True, False], "phone": ["+86 138 1234 5678", 13900001111],
    "id_card": ["11010519491231002X", "11010519491231002x"],
    "email": ["li@example.com"], "org_unit": ["1", 22], "station": ["x", "22"],
    "slot": [1], "record": ["22"],
}


def plausible(values):
    sensible = st.sampled_from(values)
    return st.one_of(sensible, sensible, sensible, sensible, sensible, json_values)


plausible_data = st.fixed_dictionaries(
    {"textarea": plausible(PLAUSIBLE["textarea"])},
    optional={name: plausible(values) for name, values in PLAUSIBLE.items()
              if name != "textarea"})


def assert_messages(errors):
    assert isinstance(errors, dict)
    for name, messages in errors.items():
        assert isinstance(name, str)
        assert messages and all(isinstance(m, str) and m for m in messages)


def test_the_definition_used_here_is_valid():
    assert PROBLEMS == []


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(NAMES) | any_text, json_values, max_size=8),
       st.sampled_from(["zh_CN", "en"]))
def test_any_json_gets_messages_or_clean_data(data, locale):
    clean, errors = validate_data(SPEC, data, locale=locale, choices=provider)
    assert_messages(errors)
    if not errors:
        json.dumps(clean)
        # What forms accept, the engine's own last check accepts unchanged.
        assert clean_form(SPEC, clean) == (clean, {})


@settings(max_examples=300, deadline=None)
@given(plausible_data, st.sampled_from(["zh_CN", "en"]))
def test_mostly_sensible_json_that_forms_accept_the_engine_accepts(data, locale):
    clean, errors = validate_data(SPEC, data, locale=locale, choices=provider)
    assert_messages(errors)
    event("accepted" if not errors else "refused")
    if not errors:
        assert clean_form(SPEC, clean) == (clean, {})


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_any_json_document_at_all(data):
    _, errors = validate_data(SPEC, data, locale="en", choices=provider)
    assert_messages(errors)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(NAMES), browser_values, max_size=8),
       st.sampled_from(["zh_CN", "en"]))
def test_any_browser_post_gets_messages_and_the_page_still_renders(post, locale):
    form_class = build_form_class(SPEC, locale=locale, choices=provider)
    form = form_class(formdata=MultiDict([(k, v) for k, values in post.items() for v in values]))
    form.validate()
    assert_messages(form.errors)
    for field in form:
        field()  # the page with the errors must render
    clean = form.clean_data()
    assert set(clean) <= set(NAMES)
    json.dumps(clean, default=lambda v: v.record("k") if isinstance(v, Upload) else None)


def test_huge_input_in_every_field():
    huge = "9" * 1_000_000
    clean, errors = validate_data(SPEC, {name: huge for name in NAMES if name != "file"},
                                  locale="en", choices=provider)
    assert clean == {}
    assert set(errors) >= {"text", "integer", "decimal", "phone", "id_card"}
    form = build_form_class(SPEC, choices=provider)(formdata=MultiDict({n: huge for n in NAMES}))
    assert not form.validate()


def test_numbers_too_long_to_be_text_are_field_errors():
    # Not from json.loads (it refuses them), but from any Python caller.
    clean, errors = validate_data(SPEC, {"integer": 10 ** 5000, "choice": 10 ** 5000,
                                         "phone": 10 ** 5000, "textarea": "x"},
                                  choices=provider)
    assert clean == {} and set(errors) == {"integer", "choice", "phone"}


def test_a_file_field_without_accept_offers_photos_and_pdf():
    spec, problems = parse_form([{"name": "proof", "type": "file", "label": "凭证"}])
    assert problems == []
    (field,) = describe_form(spec)["fields"]
    assert field["accept"] == ["image/jpeg", "image/png", "image/gif", "image/webp",
                               "image/heic", "application/pdf"]
