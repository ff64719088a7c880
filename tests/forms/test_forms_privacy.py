"""Masking personal data for people who may not see it."""
from __future__ import annotations

import pytest

from forms import mask_changes, mask_data, mask_history, mask_value
from workflows.fields import FieldSpec

FIELDS = [
    {"name": "title", "type": "text", "label": "心愿"},
    {"name": "phone", "type": "phone", "label": "电话"},               # not flagged
    {"name": "id_number", "type": "id_card", "label": "身份证号"},     # not flagged
    {"name": "name", "type": "text", "label": "姓名", "private": True},
    {"name": "address", "type": "textarea", "label": "住址", "private": True},
    {"name": "email", "type": "email", "label": "邮箱", "private": True},
    {"name": "born", "type": "date", "label": "出生日期", "private": True},
    {"name": "photo", "type": "file", "label": "证件照", "accept": "image/*", "private": True},
]
DATA = {"title": "一辆旧自行车", "phone": "13812345678", "id_number": "500103199003071234",
        "name": "张三", "address": "重庆市渝中区解放碑街道民族路 188 号",
        "email": "alice@example.com", "born": "1990-03-07",
        "photo": {"key": "k1", "name": "a.png", "mime": "image/png", "size": 10},
        "legacy": "kept"}


@pytest.fixture
def spec(make_spec):
    return make_spec(FIELDS)


def test_what_the_wish_wall_shows(spec):
    masked = mask_data(spec, DATA, may_see_private=False)
    assert masked == {
        "title": "一辆旧自行车",
        "phone": "138****5678",
        "id_number": "500103********1234",
        "name": "张*",
        "address": "重庆市渝中区********",
        "email": "a***@example.com",
        "born": "***",
        "photo": None,
        "legacy": "kept",
    }


def test_staff_who_may_see_personal_data_see_it_all(spec):
    assert mask_data(spec, DATA, may_see_private=True) == DATA


def test_masking_does_not_touch_the_stored_data(spec):
    before = dict(DATA)
    mask_data(spec, DATA, may_see_private=False)
    assert DATA == before


@pytest.mark.parametrize("type_, value, masked", [
    ("phone", "13900001111", "139****1111"),
    ("id_card", "11010519491231002X", "110105********002X"),
    ("email", "li.ming@union.example.cn", "l***@union.example.cn"),
    ("text", "李", "*"),
    ("text", "欧阳娜娜", "欧***"),
    ("text", None, None),
    ("phone", "123", "***"),  # too short to show any of it
])
def test_mask_value(type_, value, masked):
    assert mask_value(FieldSpec("x", type_, "x"), value) == masked


def test_history_changes_are_masked_like_the_data(spec):
    # What the engine records on submit: {field: [old, new]}; the web layer stores it so.
    changes = {"title": [None, "一辆旧自行车"], "phone": [None, "13812345678"],
               "name": ["张三", "李四"], "photo": [None, DATA["photo"]], "legacy": [1, 2]}
    assert mask_changes(spec, changes, may_see_private=False) == {
        "title": [None, "一辆旧自行车"], "phone": [None, "138****5678"],
        "name": ["张*", "李*"], "photo": [None, None], "legacy": [1, 2]}
    assert mask_changes(spec, changes, may_see_private=True) == changes


def test_an_instance_history_is_masked_entry_by_entry(spec):
    from datetime import datetime

    from workflows.state import HistoryEntry, freeze

    history = (HistoryEntry(datetime(2025, 5, 5), "rider", "submit",
                            changes=freeze({"phone": [None, "13812345678"]})),
               HistoryEntry(datetime(2025, 5, 6), "head", "approve", comment="同意"))
    masked = mask_history(spec, history, may_see_private=False)
    assert dict(masked[0].changes) == {"phone": [None, "138****5678"]}
    assert masked[0].actor == "rider" and masked[1] == history[1]
    assert history[0].changes["phone"] == (None, "13812345678")  # the record is untouched
    assert mask_history(spec, history, may_see_private=True) == list(history)
