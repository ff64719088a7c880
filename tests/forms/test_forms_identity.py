"""Resident ID numbers (check character, birth date) and mobile numbers."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forms import validate_data


def check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 written the textbook way, independent of forms.identity:
    weights are 2^(17-i) mod 11, and the check value makes the total ≡ 1 (mod 11)."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def id_number(region="500103", born="19900307", sequence="123"):
    first17 = region + born + sequence
    return first17 + check_char(first17)


def test_the_textbook_example_number_is_valid(one_field, submit):
    # The sample number printed in GB 11643 explanations.
    assert check_char("11010519491231002") == "X"
    form = submit(one_field("id_card"), {"answer": "11010519491231002x"})
    assert form.errors == {}
    assert form.clean_data() == {"answer": "11010519491231002X"}


@pytest.mark.parametrize("region, born, sequence", [
    ("500103", "19900307", "123"),   # 重庆渝中
    ("500105", "19851111", "002"),   # 重庆江北
    ("110105", "20000229", "456"),   # a leap day
    ("440106", "19700101", "999"),
])
def test_valid_numbers_are_accepted_and_normalised(one_field, submit, region, born, sequence):
    number = id_number(region, born, sequence)
    typed = f" {number[:6]} {number[6:14]} {number[14:].lower()} "  # grouped, lower-case x
    form = submit(one_field("id_card", required=True), {"answer": typed})
    assert form.errors == {}
    assert form.clean_data() == {"answer": number}


def test_every_wrong_check_character_is_rejected(one_field, submit):
    number = id_number()
    for wrong in "0123456789X":
        if wrong == number[-1]:
            continue
        form = submit(one_field("id_card"), {"answer": number[:17] + wrong})
        assert form.errors == {"answer": ["身份证号码校验不通过，请逐位核对。"]}


@given(st.from_regex(r"[1-6][0-9]{5}", fullmatch=True),
       st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)),
       st.from_regex(r"[0-9]{3}", fullmatch=True))
def test_any_well_formed_number_passes_and_a_changed_digit_fails(one_field, region, born,
                                                                sequence):
    number = id_number(region, born.strftime("%Y%m%d"), sequence)
    assert validate_data(one_field("id_card"), {"answer": number})[1] == {}
    tampered = number[:16] + str((int(number[16]) + 1) % 10) + number[17]
    assert "answer" in validate_data(one_field("id_card"), {"answer": tampered})[1]


@pytest.mark.parametrize("typed, zh, en", [
    ("50010319900307123", "身份证号码应为 18 位：17 位数字加 1 位数字或 X。",
     "An ID number has 18 characters: 17 digits, then a digit or X."),
    ("5001031990030712345", "身份证号码应为 18 位：17 位数字加 1 位数字或 X。",
     "An ID number has 18 characters: 17 digits, then a digit or X."),
    ("50010319900307123A", "身份证号码应为 18 位：17 位数字加 1 位数字或 X。",
     "An ID number has 18 characters: 17 digits, then a digit or X."),
    (id_number(born="19901340"), "身份证号码中的出生日期无效。",
     "The date of birth in this ID number is not valid."),
    (id_number(born="18991231"), "身份证号码中的出生日期无效。",
     "The date of birth in this ID number is not valid."),
    (id_number(born=f"{date.today().year + 1}0101"), "身份证号码中的出生日期无效。",
     "The date of birth in this ID number is not valid."),
])
def test_malformed_numbers_get_a_reason_in_both_languages(one_field, submit, typed, zh, en):
    assert submit(one_field("id_card"), {"answer": typed}).errors == {"answer": [zh]}
    assert submit(one_field("id_card"), {"answer": typed}, locale="en").errors == {"answer": [en]}


@pytest.mark.parametrize("typed", [
    "13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678", "+8613812345678",
    "008613812345678", "8613812345678", "１３８１２３４５６７８", "(138) 1234-5678",
])
def test_mobile_numbers_are_normalised_to_eleven_digits(one_field, submit, typed):
    form = submit(one_field("phone", required=True), {"answer": typed})
    assert form.errors == {}
    assert form.clean_data() == {"answer": "13812345678"}


@pytest.mark.parametrize("typed", [
    "12812345678",     # no mobile prefix starts 12
    "1381234567",      # ten digits
    "138123456789",    # twelve digits
    "023-6388 1234",   # a Chongqing landline
    "+1 138 1234 5678",
    "13812345678x",
])
def test_other_numbers_are_not_mobile_numbers(one_field, submit, typed):
    assert submit(one_field("phone"), {"answer": typed}).errors == {
        "answer": ["请输入 11 位手机号码，如 138 1234 5678。"]}
    assert submit(one_field("phone"), {"answer": typed}, locale="en").errors == {
        "answer": ["Enter an 11-digit mainland mobile number, e.g. 138 1234 5678."]}
