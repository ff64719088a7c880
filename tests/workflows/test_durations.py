"""Durations in definitions and working-day arithmetic."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from workflows.durations import (WorkCalendar, add_duration, add_working_days, describe,
                                 parse_duration)

FRIDAY = datetime(2025, 5, 9, 17, 30)


@pytest.mark.parametrize("text, delta", [
    ("30m", timedelta(minutes=30)), ("4h", timedelta(hours=4)), ("2d", timedelta(days=2)),
    ("1w", timedelta(weeks=1)), (" 15 d ", timedelta(days=15)), ("90min", timedelta(minutes=90)),
])
def test_calendar_durations(text, delta):
    assert add_duration(FRIDAY, parse_duration(text)) - FRIDAY == delta


@pytest.mark.parametrize("count, expected", [
    (1, datetime(2025, 5, 12, 17, 30)),   # Friday + 1 working day = Monday
    (3, datetime(2025, 5, 14, 17, 30)),
    (5, datetime(2025, 5, 16, 17, 30)),
])
def test_working_days_skip_weekends(count, expected):
    assert add_duration(FRIDAY, parse_duration(f"{count}wd")) == expected


def test_holidays_and_make_up_days():
    calendar = WorkCalendar(holidays=frozenset({date(2025, 5, 12)}),
                            workdays=frozenset({date(2025, 5, 10)}))  # a working Saturday
    assert add_working_days(FRIDAY, 2, calendar) == datetime(2025, 5, 13, 17, 30)


@pytest.mark.parametrize("text", ["", "2", "2 days", "d2", "1.5d", "-1d", "0h", True, None,
                                  "99999d", "5y"])
def test_bad_durations_are_refused_plainly(text):
    with pytest.raises(ValueError) as err:
        parse_duration(text)
    assert "duration" in str(err.value)


def test_describe():
    assert describe(parse_duration("3wd")) == "3个工作日"
    assert describe(parse_duration("3wd"), "en") == "3 working days"


def test_working_days_are_counted_in_the_calendars_time_zone():
    """Friday 07:00 in China is Thursday 23:00 in UTC: one working day later is Monday
    07:00 in China, not Saturday (counting from the UTC Thursday); a holiday is China's."""
    from datetime import timezone
    from zoneinfo import ZoneInfo

    china = ZoneInfo("Asia/Shanghai")
    friday_morning = datetime(2026, 12, 4, 7, 0, tzinfo=china).astimezone(timezone.utc)
    calendar = WorkCalendar(tz=china)
    later = add_working_days(friday_morning, 1, calendar)
    assert later.tzinfo == timezone.utc
    assert later.astimezone(china) == datetime(2026, 12, 7, 7, 0, tzinfo=china)
    monday_off = WorkCalendar(holidays=frozenset({date(2026, 12, 7)}), tz=china)
    assert add_working_days(friday_morning, 1, monday_off).astimezone(china).day == 8
    # Without a zone, the day is the given time's own (as before).
    assert add_working_days(friday_morning, 1, WorkCalendar()).astimezone(china).day == 5
