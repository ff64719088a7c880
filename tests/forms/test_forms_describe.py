"""What API clients are told about a form: ``describe_form`` and ``json_schema``."""
from __future__ import annotations

import json

import pytest

from forms import describe_form, json_schema

FIELDS = [
    {"name": "title", "type": "text", "label": "心愿", "label_en": "Wish", "required": True,
     "max_length": 40, "help": "一句话说清楚", "help_en": "One sentence"},
    {"name": "category", "type": "choice", "label": "类别", "label_en": "Category",
     "choices": [{"value": "goods", "label": "物品", "label_en": "Goods"},
                 {"value": "service", "label": "服务", "label_en": "Service"}]},
    {"name": "detail", "type": "textarea", "label": "说明", "show_if": "form.category == 'service'"},
    {"name": "rating", "type": "integer", "label": "评分", "min": 1, "max": 5, "default": 5},
    {"name": "budget", "type": "decimal", "label": "预算", "min": 0, "places": 2},
    {"name": "phone", "type": "phone", "label": "电话", "required": True},
    {"name": "address", "type": "text", "label": "住址", "private": True},
    {"name": "station", "type": "station", "label": "驿站", "label_en": "Station"},
    {"name": "proof", "type": "file", "label": "照片", "accept": "image/*", "max_size": "5MB"},
]


@pytest.fixture
def spec(make_spec):
    return make_spec(FIELDS)


def test_fields_are_described_in_the_callers_language(spec, stations):
    fields = {f["name"]: f for f in describe_form(spec, locale="en", choices=stations)["fields"]}
    assert fields["title"] == {"name": "title", "type": "text", "label": "Wish",
                               "required": True, "help": "One sentence", "max_length": 40}
    assert fields["category"]["choices"] == [{"value": "goods", "label": "Goods"},
                                             {"value": "service", "label": "Service"}]
    assert fields["detail"]["show_if"] == "form.category == 'service'"
    assert fields["rating"] == {"name": "rating", "type": "integer", "label": "评分",
                                "required": False, "min": 1, "max": 5, "default": 5}
    assert fields["budget"]["min"] == "0" and fields["budget"]["places"] == 2
    assert fields["phone"]["private"] is True and fields["address"]["private"] is True
    assert fields["station"]["choices"][0] == {"value": "1", "label": "解放碑驿站"}
    assert fields["proof"]["accept"] == ["image/jpeg", "image/png", "image/gif", "image/webp",
                                         "image/heic"]
    assert fields["proof"]["max_size"] == 5 * 1024 * 1024


def test_chinese_description_and_json_ready(spec, stations):
    described = describe_form(spec, choices=stations)
    fields = {f["name"]: f for f in described["fields"]}
    assert fields["title"]["label"] == "心愿" and fields["title"]["help"] == "一句话说清楚"
    assert fields["category"]["choices"][0] == {"value": "goods", "label": "物品"}
    assert json.loads(json.dumps(described)) == described


def test_database_options_are_left_out_without_a_provider(spec):
    fields = {f["name"]: f for f in describe_form(spec)["fields"]}
    assert "choices" not in fields["station"]


def test_json_schema(spec):
    schema = json_schema(spec)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["required"] == ["title", "phone"]
    props = schema["properties"]
    assert props["title"]["type"] == "string" and props["title"]["maxLength"] == 40
    assert props["category"]["enum"] == ["goods", "service", None]
    assert props["rating"] == {"type": ["integer", "null"], "minimum": 1, "maximum": 5,
                               "title": "评分"}
    assert props["detail"]["x-show-if"] == "form.category == 'service'"
    assert props["phone"]["pattern"] == "^1[3-9][0-9]{9}$" and props["phone"]["x-private"]
    assert props["proof"]["format"] == "binary"
    assert json.loads(json.dumps(schema)) == schema
