"""Every message a user can see from ``forms/``, in Chinese and English.

Message ids are the English text (as in WTForms), so one translations object serves our
messages and WTForms' built-in ones alike: ``Translations`` looks a message up here
first, then in the catalogue WTForms ships, so a form built for a locale speaks that
language throughout.  WTForms' own Chinese catalogue has a few wrong entries (e.g.
"This field cannot be edited." is translated as "required"); ours override them.
"""
from __future__ import annotations

from functools import cache
from typing import Any

from wtforms.i18n import get_translations

ZH = "zh_CN"
EN = "en"


def normalise_locale(locale: Any) -> str:
    """``"en"`` for any English locale ("en", "en_US", "en-GB"), else ``"zh_CN"``."""
    return EN if str(locale or "").lower().replace("-", "_").startswith("en") else ZH


# --- ids of our own messages (English text; Chinese below) -------------------------------
REQUIRED = "This field is required."
REQUIRED_CHOICE = "Please choose one."
REQUIRED_CHECK = "Please tick this box."
REQUIRED_FILE = "Please upload a file."
INVALID_INPUT = "Invalid input."
BAD_CHARACTERS = "The text contains characters that are not allowed."
TOO_SHORT = "Enter at least %(min)d characters."
TOO_LONG = "Enter at most %(max)d characters."
PATTERN = "The format is not right."
NOT_INTEGER = "Enter a whole number, e.g. 12."
NOT_DECIMAL = "Enter a number, e.g. 12.5."
TOO_MANY_DIGITS = "The number has too many digits."
TOO_MANY_PLACES = "Enter at most %(places)d decimal places."
NUMBER_MIN = "Enter a number of at least %(min)s."
NUMBER_MAX = "Enter a number of at most %(max)s."
NOT_DATE = "Enter a date, e.g. 2025-05-01."
NOT_DATETIME = "Enter a date and time, e.g. 2025-05-01 09:30."
DATE_MIN = "Choose a date no earlier than %(min)s."
DATE_MAX = "Choose a date no later than %(max)s."
NOT_A_CHOICE = "Not a valid choice."
CHOICES_MIN = "Choose at least %(min)d."
CHOICES_MAX = "Choose at most %(max)d."
CHOOSE = "— Choose —"
PHONE = "Enter an 11-digit mainland mobile number, e.g. 138 1234 5678."
ID_CARD_FORM = "An ID number has 18 characters: 17 digits, then a digit or X."
ID_CARD_CHECK = "This ID number is not valid; please check each digit."
ID_CARD_BIRTH = "The date of birth in this ID number is not valid."
EMAIL = "Invalid email address."
FILE_NOT_FILE = "Send this as a file upload."
FILE_EMPTY = "The file is empty."
FILE_TOO_LARGE = "The file is larger than %(max)s."
FILE_TYPE = "Only these kinds of file can be uploaded: %(allowed)s."
FILE_MISMATCH = "The file's content does not match its name or type."
FILE_COUNT = "Upload at most %(max)d files."
FILE_UNREADABLE = "The file could not be read; please try again."
EXPECTED_TEXT = "Expected text."
EXPECTED_NUMBER = "Expected a number."
EXPECTED_BOOLEAN = "Expected true or false."
EXPECTED_LIST = "Expected a list of values."
EXPECTED_CHOICE = "Expected one of the option values."
EXPECTED_FILE = "Upload the file as a file part, not as a JSON value."
NOT_FILE_FIELD = "This field does not take a file."
UNKNOWN_FIELD = "This form has no such field."
NOT_AN_OBJECT = "The form data must be a JSON object."
RULE_FAILED = "These answers do not fit together; please check them."
MASKED = "Hidden"

_ZH_CATALOGUE: dict[str, str] = {
    REQUIRED: "此项为必填项。",
    REQUIRED_CHOICE: "请选择一项。",
    REQUIRED_CHECK: "请勾选此项。",
    REQUIRED_FILE: "请上传文件。",
    INVALID_INPUT: "输入无效。",
    BAD_CHARACTERS: "内容包含不允许的字符。",
    TOO_SHORT: "请至少填写 %(min)d 个字。",
    TOO_LONG: "最多填写 %(max)d 个字。",
    PATTERN: "格式不正确。",
    NOT_INTEGER: "请输入整数，如 12。",
    NOT_DECIMAL: "请输入数字，如 12.5。",
    TOO_MANY_DIGITS: "数字位数过多。",
    TOO_MANY_PLACES: "最多 %(places)d 位小数。",
    NUMBER_MIN: "请输入不小于 %(min)s 的数。",
    NUMBER_MAX: "请输入不大于 %(max)s 的数。",
    NOT_DATE: "请输入日期，如 2025-05-01。",
    NOT_DATETIME: "请输入日期和时间，如 2025-05-01 09:30。",
    DATE_MIN: "日期不能早于 %(min)s。",
    DATE_MAX: "日期不能晚于 %(max)s。",
    NOT_A_CHOICE: "请从列表中选择有效的选项。",
    CHOICES_MIN: "请至少选择 %(min)d 项。",
    CHOICES_MAX: "最多选择 %(max)d 项。",
    CHOOSE: "— 请选择 —",
    PHONE: "请输入 11 位手机号码，如 138 1234 5678。",
    ID_CARD_FORM: "身份证号码应为 18 位：17 位数字加 1 位数字或 X。",
    ID_CARD_CHECK: "身份证号码校验不通过，请逐位核对。",
    ID_CARD_BIRTH: "身份证号码中的出生日期无效。",
    EMAIL: "请输入有效的电子邮箱地址。",
    FILE_NOT_FILE: "请以文件形式上传。",
    FILE_EMPTY: "文件是空的。",
    FILE_TOO_LARGE: "文件超过 %(max)s。",
    FILE_TYPE: "只能上传以下类型的文件：%(allowed)s。",
    FILE_MISMATCH: "文件内容与文件名或类型不符。",
    FILE_COUNT: "最多上传 %(max)d 个文件。",
    FILE_UNREADABLE: "文件无法读取，请重试。",
    EXPECTED_TEXT: "应为文本。",
    EXPECTED_NUMBER: "应为数字。",
    EXPECTED_BOOLEAN: "应为 true 或 false。",
    EXPECTED_LIST: "应为多个值组成的列表。",
    EXPECTED_CHOICE: "应为选项中的一个值。",
    EXPECTED_FILE: "请以文件形式上传，而不是写在 JSON 里。",
    NOT_FILE_FIELD: "此项不接受文件。",
    UNKNOWN_FIELD: "表单中没有此项。",
    NOT_AN_OBJECT: "表单数据必须是 JSON 对象。",
    RULE_FAILED: "填写的内容相互矛盾，请检查。",
    MASKED: "已隐藏",
    # WTForms' own messages whose shipped Chinese is wrong, missing or unclear.
    "Number must be at least %(min)s.": "数值不能小于 %(min)s。",
    "Number must be at most %(max)s.": "数值不能大于 %(max)s。",
    "This field cannot be edited.": "此项不可修改。",
    "This field is disabled and cannot have a value.": "此项已禁用，不能填写。",
    "Not a valid integer value.": "请输入整数，如 12。",
    "Not a valid decimal value.": "请输入数字，如 12.5。",
}

OUR_MESSAGES: tuple[str, ...] = tuple(
    value for name, value in list(globals().items())
    if name.isupper() and isinstance(value, str) and name not in ("ZH", "EN"))


class InputError(ValueError):
    """Input that cannot be turned into a value: a message id and its parameters.

    Parsers raise it without knowing the locale; the field renders it with the
    form's translations (``render``), so parsing stays testable on its own.
    """

    def __init__(self, msgid: str, **params: Any):
        super().__init__(msgid)
        self.msgid, self.params = msgid, params

    def render(self, translations: Any) -> str:
        text = translations.gettext(self.msgid)
        return text % self.params if self.params else text


class Translations:
    """WTForms-style translations for one locale: our catalogue, then WTForms' own."""

    def __init__(self, locale: str):
        self.locale = normalise_locale(locale)
        self._wtforms = _wtforms_catalogue() if self.locale == ZH else None

    def gettext(self, string: str) -> str:
        if self._wtforms is None:
            return string
        return _ZH_CATALOGUE.get(string) or self._wtforms.gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        if self._wtforms is None:
            return singular if n == 1 else plural
        return _ZH_CATALOGUE.get(singular) or self._wtforms.ngettext(singular, plural, n)


@cache
def _wtforms_catalogue() -> Any:
    return get_translations(["zh_CN", "zh"])


@cache
def translations(locale: str) -> Translations:
    """The (shared, read-only) translations object for ``locale``."""
    return Translations(locale)


def translate(locale: str, msgid: str, **params: Any) -> str:
    """``msgid`` in ``locale``, with ``params`` filled in."""
    text = translations(normalise_locale(locale)).gettext(msgid)
    return text % params if params else text


def pick(locale: str, zh: str | None, en: str | None, fallback: str) -> str:
    """A definition's own text in the locale: ``en`` in English, ``zh`` in Chinese.

    When the definition gives no English, English users get our generic ``fallback``
    message rather than Chinese they may not read.
    """
    if normalise_locale(locale) == EN:
        return en or translate(EN, fallback)
    return zh or translate(ZH, fallback)
