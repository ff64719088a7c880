"""Checking submitted form data against a ``FormSpec``.

The forms package validates in the browser-facing layer; the engine checks again here
because it is the last line before data is stored in an instance.  Values are kept
JSON-ready (dates as ISO text, decimals as text); ``typed`` turns them back into
``date``/``Decimal`` for conditions.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from fnmatch import fnmatchcase
from typing import Any, Callable, Mapping

from workflows.fields import (DEFAULT_MAX_LENGTH, FieldSpec, FormSpec, Relative, on_day,
                              union_today)

Message = tuple[str, str]  # (zh, en)
Cleaner = Callable[[FieldSpec, Any], tuple[Any, list[Message]]]

# ASCII digits only: \d would also take "١٣٨…" and "²", which int() refuses or stores oddly.
_PHONE = re.compile(r"1[3-9][0-9]{9}")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID_CARD = re.compile(r"[0-9]{17}[0-9X]")
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_TOO_LARGE = 10 ** 30  # no field takes a number this large
_FILE_KEYS = ("id", "key", "name", "mime", "size", "sha256")  # forms.uploads.Upload.record
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, tuple, dict)) and not value) or \
        (isinstance(value, str) and not value.strip())


def has_bad_characters(text: str) -> bool:
    """Control characters other than tab and newlines, or lone surrogates: NUL and
    surrogates cannot be stored (PostgreSQL refuses them), the others are never typed."""
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t\n\r"
               for ch in text)


def _plain_text(value: Any) -> str | None:
    """A single value as text; None for anything else (a list, a mapping, a yes/no).

    str() of a structure would store its Python repr, and raises on a number of
    thousands of digits inside it."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        return None
    if isinstance(value, int) and abs(value) >= _TOO_LARGE:
        return None
    return str(value)


def _text(spec: FieldSpec, value: Any) -> tuple[Any, list[Message]]:
    text = _plain_text(value)
    if text is None:
        return None, [("请输入文字", "Enter text")]
    text = text.strip() if spec.type == "text" else text.replace("\r\n", "\n")
    if has_bad_characters(text):
        return None, [("内容含有无效字符", "The text contains characters that are not allowed")]
    errors: list[Message] = []
    if spec.min_length is not None and len(text) < spec.min_length:
        errors.append((f"至少 {spec.min_length} 个字", f"At least {spec.min_length} characters"))
    most = spec.max_length or DEFAULT_MAX_LENGTH[spec.type]
    if len(text) > most:
        errors.append((f"最多 {most} 个字", f"At most {most} characters"))
    if spec.pattern and not re.fullmatch(spec.pattern, text):
        errors.append((spec.pattern_message or "格式不正确",
                       spec.pattern_message_en or spec.pattern_message or "Wrong format"))
    return text, errors


def _range_errors(spec: FieldSpec, value: Any) -> list[Message]:
    errors: list[Message] = []
    least, most = _on_today(spec.min), _on_today(spec.max)
    if least is not None and value < _bound(spec, least):
        errors.append((f"不能小于 {least}", f"Must be at least {least}"))
    if most is not None and value > _bound(spec, most):
        errors.append((f"不能大于 {most}", f"Must be at most {most}"))
    return errors


def _on_today(bound: Any) -> Any:
    # ``clean_form`` reads relative bounds on its day first; a value checked alone (a
    # definition's default) is checked on the union's today.
    return bound.on(union_today()) if isinstance(bound, Relative) else bound


def _bound(spec: FieldSpec, bound: Any) -> Any:
    if spec.type == "date":
        return date.fromisoformat(str(bound))
    if spec.type == "datetime":
        return _naive(datetime.fromisoformat(str(bound)))
    return bound


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


def _integer(spec: FieldSpec, value: Any) -> tuple[Any, list[Message]]:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?[0-9]{1,18}\s*", value):
        number = int(value)
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        number = int(value)
    if number is None or abs(number) >= 10 ** 18:
        return None, [("请输入整数", "Enter a whole number")]
    return number, _range_errors(spec, number)


def _decimal(spec: FieldSpec, value: Any) -> tuple[Any, list[Message]]:
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, (bool, dict, list)) else None
    except (InvalidOperation, ValueError):  # ValueError: an int too long to turn into text
        number = None
    if number is None or not number.is_finite():
        return None, [("请输入数字", "Enter a number")]
    errors = _range_errors(spec, number)
    if spec.places is not None and -number.as_tuple().exponent > spec.places:
        errors.append((f"最多 {spec.places} 位小数", f"At most {spec.places} decimal places"))
    return str(number), errors


def _date(spec: FieldSpec, value: Any) -> tuple[Any, list[Message]]:
    try:
        if isinstance(value, datetime):
            day = value.date()
        elif isinstance(value, date):
            day = value
        else:
            day = date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None, [("请输入日期，如 2025-05-01", "Enter a date like 2025-05-01")]
    return day.isoformat(), _range_errors(spec, day)


def _datetime(spec: FieldSpec, value: Any) -> tuple[Any, list[Message]]:
    try:
        moment = value if isinstance(value, datetime) else \
            datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None, [("请输入日期时间", "Enter a date and time")]
    return moment.isoformat(), _range_errors(spec, _naive(moment))


def _choice(spec: FieldSpec, value: Any) -> tuple[Any, list[Message]]:
    text = _plain_text(value) if not isinstance(value, (float, Decimal)) else None
    if text is None or spec.choice(text) is None:
        return None, [("请从选项中选择", "Pick one of the options")]
    return text, []


def _multichoice(spec: FieldSpec, value: Any) -> tuple[Any, list[Message]]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        return None, [("请从选项中选择", "Pick from the options")]
    picked: list[str] = []
    for item in items:
        chosen, errors = _choice(spec, item)
        if errors:
            return None, errors
        if chosen not in picked:
            picked.append(chosen)
    errors: list[Message] = []
    if spec.min is not None and len(picked) < spec.min:
        errors.append((f"至少选择 {spec.min} 项", f"Pick at least {spec.min}"))
    if spec.max is not None and len(picked) > spec.max:
        errors.append((f"最多选择 {spec.max} 项", f"Pick at most {spec.max}"))
    return picked, errors


_TRUE = {"true", "1", "yes", "on", "y", "是"}
_FALSE = {"false", "0", "no", "off", "n", "否"}


def _boolean(spec: FieldSpec, value: Any) -> tuple[Any, list[Message]]:
    if isinstance(value, bool):
        return value, []
    text = (_plain_text(value) or "").strip().lower()
    if text in _TRUE:
        return True, []
    if text in _FALSE:
        return False, []
    return None, [("请选择是或否", "Choose yes or no")]


def _phone(spec: FieldSpec, value: Any) -> tuple[Any, list[Message]]:
    digits = re.sub(r"[\s-]", "", _plain_text(value) or "")
    digits = digits[3:] if digits.startswith("+86") else digits
    if not _PHONE.fullmatch(digits):
        return None, [("请输入 11 位手机号", "Enter an 11-digit mobile number")]
    return digits, []


def id_card_ok(number: str) -> bool:
    """Whether an 18-digit resident ID number has a correct check digit (GB 11643)."""
    if not _ID_CARD.fullmatch(number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17]


def _id_card(spec: FieldSpec, value: Any) -> tuple[Any, list[Message]]:
    number = (_plain_text(value) or "").strip().upper()
    if not id_card_ok(number):
        return None, [("身份证号码不正确", "Not a valid ID card number")]
    return number, []


def _email(spec: FieldSpec, value: Any) -> tuple[Any, list[Message]]:
    text = (_plain_text(value) or "").strip()
    if len(text) > 254 or not _EMAIL.match(text):
        return None, [("邮箱格式不正确", "Not a valid email address")]
    return text, []


def _file(spec: FieldSpec, value: Any) -> tuple[Any, list[Message]]:
    # Files are uploaded by the web layer; the engine stores references to them: an id
    # or a mapping like {"id": ..., "name": ..., "mime": ..., "size": ...}.
    items = value if isinstance(value, list) else [value]
    if len(items) > spec.max_files:
        return None, [(f"最多上传 {spec.max_files} 个文件", f"At most {spec.max_files} files")]
    for item in items:
        problem = _file_problem(spec, item)
        if problem:
            return None, [problem]
    items = [_file_record(item) for item in items]
    return (items if spec.max_files > 1 else items[0]), []


def _file_record(item: Any) -> Any:
    # Only the record's own keys are kept: anything else (say a list nested a thousand
    # deep) would be stored in the instance for ever.
    if not isinstance(item, Mapping):
        return item
    return {k: v for k, v in item.items() if k in _FILE_KEYS
            and isinstance(v, (str, int, float)) and _plain_text(v) is not None}


def _file_problem(spec: FieldSpec, item: Any) -> Message | None:
    if _is_id(item):
        return None
    if not isinstance(item, Mapping) or not any(_is_id(item.get(k)) for k in ("id", "key")):
        return ("文件无效", "Not a valid file")
    mime, name = item.get("mime"), item.get("name")
    if mime is not None and not (isinstance(mime, str) and _accepted(
            spec, mime, name if isinstance(name, str) else "")):
        return ("文件类型不允许", "This type of file is not allowed")
    size = item.get("size")
    if spec.max_size is not None and isinstance(size, int) and size > spec.max_size:
        return ("文件太大", "The file is too large")
    return None


def _is_id(value: Any) -> bool:
    return isinstance(value, (str, int)) and _plain_text(value) is not None


def _accepted(spec: FieldSpec, mime: str, name: str) -> bool:
    # MIME patterns ("image/*") match the type; extensions (".pdf") match the stored
    # name, which the forms package ends with the real type's extension.
    mime, name = mime.lower(), name.lower()
    return any(fnmatchcase(mime, pattern.lower()) if "/" in pattern
               else name.endswith(pattern.lower()) for pattern in spec.accepted)


def _reference(spec: FieldSpec, value: Any) -> tuple[Any, list[Message]]:
    # Units, stations and slots are chosen from lists; the web layer checks they exist.
    if isinstance(value, int) and not isinstance(value, bool):
        return value, []
    text = value.strip() if isinstance(value, str) else ""
    # An id is ASCII: isdigit() is also true of "²" and "١", which int() refuses.
    if re.fullmatch(r"[0-9]{1,18}", text):
        return int(text), []
    if _REFERENCE.fullmatch(text):
        return text, []  # ids that are not numbers (codes, uuids)
    return None, [("请选择", "Please choose one")]


CLEANERS: dict[str, Cleaner] = {
    "text": _text, "textarea": _text, "integer": _integer, "decimal": _decimal,
    "date": _date, "datetime": _datetime, "choice": _choice, "multichoice": _multichoice,
    "boolean": _boolean, "phone": _phone, "id_card": _id_card, "email": _email,
    "file": _file, "org_unit": _reference, "station": _reference, "slot": _reference,
    "record": _reference,
}


def clean_value(spec: FieldSpec, value: Any) -> tuple[Any, list[Message]]:
    """The stored form of ``value`` for this field and the problems with it."""
    if is_empty(value):
        return None, []
    if isinstance(value, int) and abs(value) >= _TOO_LARGE:
        # No field takes such a number, and one of thousands of digits cannot even be
        # turned into text (str() raises ValueError).
        return None, [("数值过大", "The number is too large")]
    return CLEANERS[spec.type](spec, value)


def typed(form: FormSpec, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with dates and decimals as Python values, for conditions to compare."""
    out = dict(data)
    for spec in form.fields:
        value = out.get(spec.name)
        if value is None:
            continue
        try:
            if spec.type == "decimal":
                out[spec.name] = Decimal(str(value))
            elif spec.type == "date":
                out[spec.name] = date.fromisoformat(str(value)[:10])
            elif spec.type == "datetime":
                out[spec.name] = datetime.fromisoformat(str(value))
        except (ValueError, InvalidOperation):
            pass  # leave the text; conditions on it are then simply false
    return out


def clean_form(form: FormSpec, data: Mapping[str, Any] | None,
               base: Mapping[str, Any] | None = None,
               records: Callable[[str, str, Mapping[str, Any]], Any] | None = None,
               today: date | None = None
               ) -> tuple[dict[str, Any], dict[str, list[Message]]]:
    """Check ``data`` against ``form``: the cleaned values and the errors per field.

    Unknown keys are dropped; fields whose ``show_if`` does not hold are dropped too
    (and not required).  Cross-field rules run only when every field is fine, so a
    person sees the simple problems first.  Errors of the whole form are under "".
    ``base`` is data already known (typed, e.g. the start form when a step form is
    filled): show_if and rules see it under ``form`` beneath this form's own values.
    ``records(field, attribute, values)`` answers the ``record.<field>.<attribute>``
    names rules read (the engine passes its directory's lookup); without it they are
    null.  ``today`` is the day bounds like ``max: this_year`` are read on (the union's
    today when not given).
    """
    form = on_day(form, today)
    data = data or {}
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[Message]] = {}
    for spec in form.fields:
        raw = data[spec.name] if spec.name in data else spec.default
        value, problems = clean_value(spec, raw)
        cleaned[spec.name] = value
        if problems:
            errors[spec.name] = problems
    visible = _visible(form, cleaned, base)
    errors = {name: msgs for name, msgs in errors.items() if name in visible}
    for spec in form.fields:
        if spec.name in visible and spec.required and is_empty(visible[spec.name]) \
                and spec.name not in errors:
            errors[spec.name] = [("此项必填", "This field is required")]
    if not errors:
        scope = {"form": {**(base or {}), **typed(form, visible)}}
        scope["record"] = _records(form, visible, base, records)
        for rule in form.rules:
            if not rule.check.holds(scope):
                errors.setdefault(rule.field or "", []).append(
                    (rule.message, rule.message_en or rule.message))
    return visible, errors


def _records(form: FormSpec, visible: dict[str, Any], base: Mapping[str, Any] | None,
             records) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    names = {n for rule in form.rules for n in rule.record_names}
    if records is None or not names:
        return found
    values = {**(base or {}), **visible}
    for name in names:
        _, field_name, attribute = name.split(".")
        found.setdefault(field_name, {})[attribute] = records(field_name, attribute, values)
    return found


def _visible(form: FormSpec, cleaned: dict[str, Any],
             base: Mapping[str, Any] | None) -> dict[str, Any]:
    visible = dict(cleaned)
    for spec in form.fields:
        if spec.show_if is not None and \
                not spec.show_if.holds({"form": {**(base or {}), **typed(form, visible)}}):
            visible.pop(spec.name, None)
    return visible
