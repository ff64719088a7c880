"""Building form classes: fresh per call, the locale per call, pre-filling, rendering."""
from __future__ import annotations

import pytest
from flask import Flask
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms.validators import Length

from forms import build_form_class
from workflows.errors import DefinitionError

WISH = [
    {"name": "title", "type": "text", "label": "心愿", "label_en": "Wish", "required": True,
     "max_length": 40},
    {"name": "station", "type": "station", "label": "所在驿站", "label_en": "Station",
     "required": True},
]


def test_two_builds_share_nothing(make_spec, submit):
    spec = make_spec(WISH)
    first = build_form_class(spec, choices=lambda f: [("1", "解放碑驿站")])
    second = build_form_class(spec, locale="en", choices=lambda f: [("2", "观音桥驿站")])
    assert first is not second
    assert first.title is not second.title
    first.extra_marker = "only here"
    assert not hasattr(second, "extra_marker")

    form_one = first(formdata=MultiDict({"title": "自行车", "station": "1"}))
    form_two = second(formdata=MultiDict({"title": "", "station": "1"}))
    assert form_one.validate()
    assert not form_two.validate()
    # Each build kept its own options and its own language.
    assert form_two.errors == {"title": ["This field is required."],
                               "station": ["Not a valid choice."]}
    assert form_one.title.label.text == "心愿"
    assert form_two.title.label.text == "Wish"


def test_the_options_provider_is_asked_per_build_with_the_field_spec(make_spec):
    asked = []

    def provider(field_spec):
        asked.append((field_spec.name, field_spec.type))
        return [(str(len(asked)), "驿站")]

    spec = make_spec(WISH)
    build_form_class(spec, choices=provider)
    form_class = build_form_class(spec, choices=provider)
    assert asked == [("station", "station"), ("station", "station")]
    assert form_class(formdata=MultiDict({"title": "x", "station": "2"})).validate()


def test_a_database_backed_field_without_a_provider_is_a_programming_error(make_spec):
    with pytest.raises(TypeError, match="station"):
        build_form_class(make_spec(WISH))


@pytest.mark.parametrize("name", ["data", "errors", "validate", "meta", "locale"])
def test_a_field_name_that_would_shadow_the_form_is_refused(make_spec, name):
    spec = make_spec([{"name": name, "type": "text", "label": "x"}])
    with pytest.raises(DefinitionError, match=name):
        build_form_class(spec)


def test_wtforms_own_messages_follow_the_locale_too(make_spec):
    # The web layer may add stock WTForms validators; their messages must not stay English.
    spec = make_spec(WISH[:1])
    for locale, expected in (("zh_CN", "字段长度不能超过 2 个字符。"),
                             ("en", "Field cannot be longer than 2 characters.")):
        form = build_form_class(spec, locale=locale)(formdata=MultiDict({"title": "自行车"}))
        assert not form.validate(extra_validators={"title": [Length(max=2)]})
        assert form.errors == {"title": [expected]}


def test_flask_wtf_forms_get_the_locale_of_the_call_not_of_the_request(make_spec):
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=False)
    spec = make_spec(WISH[:1])
    with app.test_request_context(method="POST", data={"title": ""}):
        form = build_form_class(spec, locale="en", base=FlaskForm)()
        assert not form.validate_on_submit()
        assert form.errors == {"title": ["This field is required."]}


def test_stored_data_pre_fills_the_form(make_spec):
    spec = make_spec([
        {"name": "day", "type": "date", "label": "日期"},
        {"name": "at", "type": "datetime", "label": "时间"},
        {"name": "amount", "type": "decimal", "label": "金额"},
        {"name": "station", "type": "station", "label": "驿站"},
        {"name": "count", "type": "integer", "label": "人数", "default": 2},
    ])
    form_class = build_form_class(spec, choices=lambda f: [("2", "观音桥驿站")])
    form = form_class(data={"day": "2025-05-01", "at": "2025-05-01T09:30:00+08:00",
                            "amount": "12.50", "station": 2})
    assert 'value="2025-05-01"' in form.day()
    assert 'value="2025-05-01T09:30"' in form.at()
    assert 'value="12.50"' in form.amount()
    assert '<option selected value="2">' in form.station()
    assert 'value="2"' in form.count()  # the definition's default


def test_stored_data_that_no_longer_reads_leaves_the_box_empty(make_spec):
    spec = make_spec([{"name": "count", "type": "integer", "label": "人数"}])
    form = build_form_class(spec)(data={"count": "many"})
    assert 'value=""' in form.count()


def test_conditional_fields_are_marked_for_the_page_script(make_spec):
    spec = make_spec([
        {"name": "category", "type": "choice", "label": "类别",
         "choices": {"goods": "物品", "other": "其他"}},
        {"name": "detail", "type": "text", "label": "说明", "required": True,
         "show_if": "form.category == 'other'"},
    ])
    form_class = build_form_class(spec)
    assert form_class.conditional_fields == {
        "detail": {"show_if": "form.category == 'other'", "depends_on": ["category"]}}
    html = form_class().detail()
    assert "data-show-if=\"form.category == &#39;other&#39;\"" in html
    # A hidden input marked required would block the browser's submit button.
    assert "required" not in html
    assert form_class().is_shown("detail") is False
    assert form_class(formdata=MultiDict({"category": "other"})).is_shown("detail") is True


def test_required_fields_are_marked_required_for_the_browser(make_spec):
    form = build_form_class(make_spec(WISH[:1]))()
    assert "required" in form.title()
    assert 'maxlength="40"' in form.title()
