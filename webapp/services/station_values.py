"""What a station's opening hours and telephone may look like, for the importer.

Both stay free text as stations publish them ("08:30-21:30", "全天", "023-6380 1234");
these checks only refuse what no worker could use: a time that does not exist
("25:00-26:00"), or a "phone number" that cannot be dialled ("abc").  Each check returns
None for a usable value, else the (zh, en) reason.
"""
from __future__ import annotations

import re

Message = tuple[str, str]

# Open round the clock, as stations write it (compared without spaces, lower-cased).
ALL_DAY = frozenset({"全天", "全天候", "全天开放", "全天24小时", "24小时", "24小时开放",
                     "7×24小时", "7x24小时", "7*24小时", "24h", "24hours", "allday",
                     "open24hours"})
# "工作日 08:00-20:00", "周一至周五 09:00-18:00": the days a range holds for.
_DAY = r"(?:每天|每日|工作日|周末|节假日|法定节假日|(?:周|星期)[一二三四五六日天](?:[-~～—–至到](?:周|星期)?[一二三四五六日天])?)"
_TIME = r"\d{1,2}[:：]\d{2}"
_ITEM = rf"(?:{_DAY}\s*[:：]?\s*)?{_TIME}\s*[-~～—–至到]\s*{_TIME}"
# One range or several, split by commas, semicolons or spaces: "08:00-12:00 14:00-18:00".
_HOURS = re.compile(rf"{_ITEM}(?:\s*(?:[,，;；、/]|\s)\s*{_ITEM})*")
_CLOCK = re.compile(r"(\d{1,2})[:：](\d{2})")
_PARTS = re.compile(r"[,，;；、/]")

# A number as it may be written: digits, spaces, dashes, brackets, a leading +.
_DIALLABLE = re.compile(r"\+?[\d\s\-－().（）]+")
_NOISE = re.compile(r"[\s\-－().（）]")
_EXTENSION = re.compile(r"\s*(?:转|分机|ext\.?|x|#|-)\s*\d{1,6}$", re.IGNORECASE)
_NUMBERS = (
    re.compile(r"1[3-9]\d{9}"),          # mobile
    re.compile(r"0[1-9]\d{1,2}\d{7,8}"),  # landline with its area code: 023-12345678
    re.compile(r"[2-9]\d{6,7}"),          # landline within the city: 6380 1234
    re.compile(r"[48]00\d{7}"),           # 400 / 800 service lines
    re.compile(r"1\d{4}|95\d{3,4}"),      # short service numbers: 12351 (union hotline)
)
# After +86 a landline drops its leading 0: +86 23 6380 1234.
_INTERNATIONAL = (_NUMBERS[0], re.compile(r"[1-9]\d{1,2}\d{7,8}"))


def hours_problem(raw: str, label: Message = ("开放时间", "hours")) -> Message | None:
    """None when ``raw`` (not empty) reads as opening hours, else why not (the column
    named by ``label``, zh and en)."""
    if re.sub(r"\s+", "", raw).lower() in ALL_DAY:
        return None
    if _HOURS.fullmatch(raw.strip()) is None:
        return (f"{label[0]}“{raw[:30]}”无法识别：请写成 09:00-18:00（多段用逗号隔开）"
                "或“全天”“24小时”",
                f"{label[1]} '{raw[:30]}' not understood: write 09:00-18:00 (several ranges "
                "separated by commas), or 全天 / 24小时 for all day")
    for hour, minute in _CLOCK.findall(raw):
        if int(minute) > 59 or int(hour) > 24 or (int(hour) == 24 and int(minute)):
            return (f"{label[0]}中的“{hour}:{minute}”不是有效的时刻（00:00 到 24:00）",
                    f"{label[1]}: '{hour}:{minute}' is not a time of day (00:00 to 24:00)")
    return None


def phone_problem(raw: str, label: Message = ("电话", "phone")) -> Message | None:
    """None when every number in ``raw`` (not empty; several split by / 、 , ;) can be
    dialled: a mobile, a landline with or without its area code, a service line."""
    for part in filter(None, (p.strip() for p in _PARTS.split(raw))):
        if not _dialable(part):
            return (f"{label[0]}“{raw[:30]}”不是有效的电话号码：手机填 11 位，"
                    "座机如 023-12345678",
                    f"{label[1]} '{raw[:30]}' is not a phone number: a mobile has 11 digits, "
                    "a landline reads like 023-12345678")
    return None


def _dialable(part: str) -> bool:
    candidates = [part]
    without_extension = _EXTENSION.sub("", part)
    if without_extension != part:
        candidates.append(without_extension)
    return any(_DIALLABLE.fullmatch(c) and _number(_NOISE.sub("", c)) for c in candidates)


def _number(digits: str) -> bool:
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and any(p.fullmatch(digits[len(prefix):])
                                             for p in _INTERNATIONAL):
            return True
    return any(p.fullmatch(digits) for p in _NUMBERS)
