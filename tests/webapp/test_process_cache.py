"""The holiday calendar is read once a while per process, not in every step that opens
a task with a deadline — and a change is still seen (at once after ``forget``, by every
process once its copy is older than CALENDAR_CACHE_SECONDS, and on the next day)."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import event

from webapp.extensions import db
from webapp.models import CalendarDay
from webapp.services import directory as directory_module
from webapp.services import process_cache
from webapp.services.directory import DbDirectory


def _reads(fn):
    seen = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        value = fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    return value, [s for s in seen if "calendar_days" in s]


def _next_weekday() -> date:
    day = date.today() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def test_the_calendar_is_read_once_and_a_change_seen_when_the_copy_is_old(app):
    holiday = _next_weekday()
    with app.app_context():
        first, reads = _reads(lambda: DbDirectory().calendar())
        assert len(reads) == 1 and first.is_working_day(holiday)
        db.session.add(CalendarDay(day=holiday, working=False, name="临时假日"))
        db.session.commit()
        # Another process's change: this process keeps its fresh copy, without a query.
        again, reads = _reads(lambda: DbDirectory().calendar())
        assert reads == [] and again.is_working_day(holiday)
        app.config["CALENDAR_CACHE_SECONDS"] = 0  # the copy is now too old
        fresh, reads = _reads(lambda: DbDirectory().calendar())
        assert len(reads) == 1 and not fresh.is_working_day(holiday)


def test_forget_and_a_new_day_read_the_calendar_again(app, monkeypatch):
    holiday = _next_weekday()
    with app.app_context():
        DbDirectory().calendar()
        db.session.add(CalendarDay(day=holiday, working=False, name="临时假日"))
        db.session.commit()
        process_cache.forget(directory_module._CALENDAR_KEY)
        assert not DbDirectory().calendar().is_working_day(holiday)

        class Tomorrow(date):
            @classmethod
            def today(cls):
                return date.fromordinal(date.today().toordinal() + 1)

        monkeypatch.setattr(directory_module, "date", Tomorrow)
        _, reads = _reads(lambda: DbDirectory().calendar())
        assert len(reads) == 1  # the window moved with the day
