"""Durations in definitions ("30m", "4h", "2d", "1w", "3wd") and adding them to a time.

"wd" counts working days: Monday to Friday, minus holidays, plus make-up working days
(调休) — both come from a ``WorkCalendar`` the directory supplies.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

_DURATION = re.compile(r"^\s*(\d{1,4})\s*(m|min|h|d|w|wd)\s*$")
_UNIT_WORDS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks",
               "wd": "working days"}
MAX_DAYS = 3660  # ten years: a longer wait is a typo


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str  # "m", "h", "d", "w" or "wd"
    text: str

    def __str__(self) -> str:
        return self.text

    @property
    def working_days(self) -> bool:
        return self.unit == "wd"


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days: Mon–Fri, minus ``holidays``, plus ``workdays`` —
    days of the calendar's time zone ``tz`` (China time for the union: a Friday 07:00
    there is still Thursday in UTC); None: the day of the time given."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    tz: tzinfo | None = None

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


class BadDuration(ValueError):
    """A duration that cannot be read; ``str()`` is English, ``zh`` the same in Chinese."""

    def __init__(self, en: str, zh: str):
        super().__init__(en)
        self.zh = zh


def parse_duration(text: object) -> Duration:
    """Parse "30m", "4h", "2d", "1w" or "3wd"; BadDuration (a ValueError) with a plain
    message in English and Chinese if not."""
    shown = "（空）" if text is None else f"“{text}”"
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise BadDuration(f"bad duration {text!r}: write it like 30m, 4h, 2d, 1w or 3wd",
                          f"时长{shown}写法不对：应写成 30m、4h、2d、1w 或 3wd 这样")
    match = _DURATION.match(str(text))
    if match is None:
        raise BadDuration(f"bad duration {text!r}: write it like 30m, 4h, 2d, 1w or 3wd "
                          "(m minutes, h hours, d days, w weeks, wd working days)",
                          f"时长{shown}写法不对：应写成 30m、4h、2d、1w 或 3wd 这样"
                          "（m 分钟，h 小时，d 天，w 周，wd 工作日）")
    amount, unit = int(match.group(1)), match.group(2)
    unit = "m" if unit == "min" else unit
    if amount == 0:
        raise BadDuration(f"bad duration {text!r}: it must be longer than zero",
                          f"时长{shown}不对：应大于零")
    days = {"m": amount / 1440, "h": amount / 24, "d": amount, "w": amount * 7,
            "wd": amount * 7 / 5}[unit]
    if days > MAX_DAYS:
        raise BadDuration(f"bad duration {text!r}: longer than ten years",
                          f"时长{shown}太长：不能超过十年")
    return Duration(amount, unit, f"{amount}{unit}")


def add_duration(start: datetime, duration: Duration,
                 calendar: WorkCalendar | None = None) -> datetime:
    """``start`` plus ``duration``; working days skip weekends and holidays."""
    if duration.unit == "m":
        return start + timedelta(minutes=duration.amount)
    if duration.unit == "h":
        return start + timedelta(hours=duration.amount)
    if duration.unit == "d":
        return start + timedelta(days=duration.amount)
    if duration.unit == "w":
        return start + timedelta(weeks=duration.amount)
    return add_working_days(start, duration.amount, calendar or WorkCalendar())


def add_working_days(start: datetime, count: int, calendar: WorkCalendar) -> datetime:
    """The same time of day ``count`` working days later (a Friday + 1wd is Monday),
    the days counted in the calendar's time zone; answered in ``start``'s."""
    local = calendar.tz is not None and start.tzinfo is not None
    moment = start.astimezone(calendar.tz) if local else start
    remaining = count
    while remaining > 0:
        moment += timedelta(days=1)
        if calendar.is_working_day(moment.date()):
            remaining -= 1
    return moment.astimezone(start.tzinfo) if local else moment


def describe(duration: Duration, locale: str = "zh") -> str:
    if str(locale).startswith("en"):
        return f"{duration.amount} {_UNIT_WORDS[duration.unit]}"
    zh = {"m": "分钟", "h": "小时", "d": "天", "w": "周", "wd": "个工作日"}[duration.unit]
    return f"{duration.amount}{zh}"
