"""Every field type, table-driven: what people type, what is kept, what they are told."""
from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from forms import KINDS
from workflows.fields import FIELD_TYPES

GOODS = {"choices": {"goods": "物品", "service": "服务", "other": "其他"}}

# (type, definition options, what the browser sends, the clean value kept)
GOOD = [
    ("text", {}, "  想要一辆电动车  ", "想要一辆电动车"),
    ("text", {}, "pasted\nline", "pasted line"),
    ("text", {"pattern": r"[A-Z]{2}[0-9]{4}"}, "AB1234", "AB1234"),
    ("textarea", {}, "第一行\r\n第二行\n", "第一行\n第二行"),
    ("integer", {}, "42", 42),
    ("integer", {}, "１２", 12),
    ("integer", {}, "1,000", 1000),
    ("integer", {"min": -5, "max": 5}, "-3", -3),
    ("decimal", {}, "12.50", "12.50"),
    ("decimal", {}, "1,234.5", "1234.5"),
    ("decimal", {}, ".5", "0.5"),
    ("decimal", {"places": 2, "min": 0, "max": 100}, "99.99", "99.99"),
    ("date", {}, "2025-05-01", "2025-05-01"),
    ("date", {}, "2025/5/1", "2025-05-01"),
    ("date", {}, "2025年5月1日", "2025-05-01"),
    ("date", {"min": "2025-01-01", "max": "2025-12-31"}, "2025-12-31", "2025-12-31"),
    ("datetime", {}, "2025-05-01T09:30", "2025-05-01T09:30:00+08:00"),
    ("datetime", {}, "2025-05-01 01:30:00Z", "2025-05-01T09:30:00+08:00"),
    ("choice", GOODS, "service", "service"),
    ("boolean", {}, "y", True),
    ("boolean", {}, "false", False),
    ("phone", {}, "+86 139-0000-1111", "13900001111"),
    ("email", {}, "  Li.Ming@Example.COM ", "Li.Ming@example.com"),
    ("station", {}, "15", 15),
    ("slot", {}, "302", 302),
    ("org_unit", {"unit_kinds": ["district"]}, "7", 7),
    ("record", {"source": "course"}, "40", 40),
]


@pytest.mark.parametrize("type_, options, typed, kept", GOOD)
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_good_input_is_kept_clean(one_field, submit, locale, type_, options, typed, kept):
    form = submit(one_field(type_, **options), {"answer": typed}, locale=locale)
    assert form.errors == {}
    assert form.clean_data() == {"answer": kept}


# (type, options, what the browser sends, Chinese message, English message)
BAD = [
    ("text", {"max_length": 5}, "一二三四五六", "最多填写 5 个字。", "Enter at most 5 characters."),
    ("text", {"min_length": 2}, "一", "请至少填写 2 个字。", "Enter at least 2 characters."),
    ("text", {}, "x" * 201, "最多填写 200 个字。", "Enter at most 200 characters."),
    ("text", {"pattern": r"[A-Z]{2}[0-9]{4}", "pattern_message": "格式如 AB1234",
              "pattern_message_en": "Use the form AB1234"},
     "ab12", "格式如 AB1234", "Use the form AB1234"),
    ("text", {"pattern": r"[0-9]+"}, "12a", "格式不正确。", "The format is not right."),
    # Too long: the definition's expression is not run over it (nor a second message).
    ("text", {"pattern": r"[A-Z]{2}[0-9]{4}", "max_length": 6}, "ab12345678",
     "最多填写 6 个字。", "Enter at most 6 characters."),
    ("text", {}, "bad\x00byte", "内容包含不允许的字符。",
     "The text contains characters that are not allowed."),
    ("text", {"required": True}, "   ", "此项为必填项。", "This field is required."),
    ("textarea", {"max_length": 3}, "一\n二三", "最多填写 3 个字。", "Enter at most 3 characters."),
    ("integer", {}, "abc", "请输入整数，如 12。", "Enter a whole number, e.g. 12."),
    ("integer", {}, "1.5", "请输入整数，如 12。", "Enter a whole number, e.g. 12."),
    ("integer", {}, "9" * 40, "数字位数过多。", "The number has too many digits."),
    ("integer", {"min": 1, "max": 5}, "0", "请输入不小于 1 的数。", "Enter a number of at least 1."),
    ("integer", {"min": 1, "max": 5}, "6", "请输入不大于 5 的数。", "Enter a number of at most 5."),
    ("decimal", {}, "NaN", "请输入数字，如 12.5。", "Enter a number, e.g. 12.5."),
    ("decimal", {}, "1e5", "请输入数字，如 12.5。", "Enter a number, e.g. 12.5."),
    ("decimal", {"places": 2}, "1.234", "最多 2 位小数。", "Enter at most 2 decimal places."),
    ("decimal", {"min": "0.5"}, "0.25", "请输入不小于 0.5 的数。",
     "Enter a number of at least 0.5."),
    ("date", {}, "2025-02-30", "请输入日期，如 2025-05-01。", "Enter a date, e.g. 2025-05-01."),
    ("date", {}, "明天", "请输入日期，如 2025-05-01。", "Enter a date, e.g. 2025-05-01."),
    ("date", {"min": "2025-01-01"}, "2024-12-31", "日期不能早于 2025-01-01。",
     "Choose a date no earlier than 2025-01-01."),
    ("date", {"max": "2025-12-31"}, "2026-01-01", "日期不能晚于 2025-12-31。",
     "Choose a date no later than 2025-12-31."),
    ("datetime", {}, "2025-05-01 25:00", "请输入日期和时间，如 2025-05-01 09:30。",
     "Enter a date and time, e.g. 2025-05-01 09:30."),
    ("datetime", {"min": "2025-05-01T08:00:00"}, "2025-05-01T07:59", "日期不能早于 2025-05-01 08:00。",
     "Choose a date no earlier than 2025-05-01 08:00."),
    ("choice", GOODS, "money", "请从列表中选择有效的选项。", "Not a valid choice."),
    ("choice", {**GOODS, "required": True}, "", "请选择一项。", "Please choose one."),
    ("boolean", {"required": True}, "", "请勾选此项。", "Please tick this box."),
    ("email", {}, "li.ming@", "请输入有效的电子邮箱地址。", "Invalid email address."),
    ("email", {}, "a@b@c.com", "请输入有效的电子邮箱地址。", "Invalid email address."),
    ("station", {}, "99", "请从列表中选择有效的选项。", "Not a valid choice."),
    ("slot", {"required": True}, "", "请选择一项。", "Please choose one."),
]


@pytest.mark.parametrize("type_, options, typed, zh, en", BAD)
def test_bad_input_is_explained_in_the_persons_language(one_field, submit, type_, options,
                                                        typed, zh, en):
    spec = one_field(type_, **options)
    chinese = submit(spec, {"answer": typed})
    english = submit(spec, {"answer": typed}, locale="en")
    assert chinese.errors == {"answer": [zh]}
    assert english.errors == {"answer": [en]}


MULTI = {"choices": {"water": "饮水", "toilet": "如厕", "charging": "充电"}}


@pytest.mark.parametrize("options, picked, zh, en, kept", [
    (MULTI, ["water", "charging", "water"], None, None, ["water", "charging"]),
    (MULTI, ["water", "wifi"], "请从列表中选择有效的选项。", "Not a valid choice.", None),
    ({**MULTI, "max": 1}, ["water", "toilet"], "最多选择 1 项。", "Choose at most 1.", None),
    ({**MULTI, "min": 2}, ["water"], "请至少选择 2 项。", "Choose at least 2.", None),
    ({**MULTI, "required": True}, [], "请选择一项。", "Please choose one.", None),
])
def test_multichoice(one_field, submit, options, picked, zh, en, kept):
    spec = one_field("multichoice", **options)
    data = MultiDict([("answer", value) for value in picked])
    for locale, message in (("zh_CN", zh), ("en", en)):
        form = submit(spec, data, locale=locale)
        if message is None:
            assert form.errors == {}
            assert form.clean_data() == {"answer": kept}
        else:
            assert form.errors == {"answer": [message]}


def test_an_unanswered_optional_field_is_kept_as_none(one_field, submit):
    for type_ in ("text", "integer", "date", "phone", "id_card", "email", "station"):
        form = submit(one_field(type_), {})
        assert form.errors == {}, type_
        assert form.clean_data() == {"answer": None}, type_


def test_an_unreadable_answer_gets_one_message_not_two(one_field, submit):
    form = submit(one_field("integer", required=True, min=1), {"answer": "lots"})
    assert form.errors == {"answer": ["请输入整数，如 12。"]}


def test_a_repeated_name_in_browser_input_reads_the_first_value(one_field, submit):
    form = submit(one_field("integer"), MultiDict([("answer", "3"), ("answer", "junk")]))
    assert form.clean_data() == {"answer": 3}


def test_after_a_failed_submit_the_box_shows_what_was_typed(one_field, submit):
    form = submit(one_field("integer"), {"answer": "12a"})
    assert 'value="12a"' in form.answer()


def test_every_engine_field_type_has_a_form_kind():
    assert set(KINDS) == set(FIELD_TYPES)
