"""The working-day calendar: public holidays (休) and make-up working days (调休上班, 班)
that change Monday to Friday.  Deadlines written in working days ("3wd") count with it.

China announces each year's holidays in the autumn before; an administrator enters them
here (one by one, or pasted as lines: ``2027-02-06,休,春节``), or from the command line
(``flask calendar import FILE``).  Each change is audited.  Web workers read the calendar
again within ``CALENDAR_CACHE_SECONDS`` (five minutes); call ``forget()`` after committing.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import extract, select

from webapp.extensions import db
from webapp.models import CalendarDay, User
from webapp.services import audit

# How a line says what kind of day it is.
HOLIDAY_WORDS = {"休", "假", "holiday", "off", "0", "false", "no"}
WORKDAY_WORDS = {"班", "上班", "workday", "working", "1", "true", "yes"}
NAME_MAX = 50
# Pasted or imported text at once: a year's holidays are some thirty lines.
MAX_TEXT = 20_000


class CalendarError(ValueError):
    """Bad input, in the reader's language."""


@dataclass(frozen=True)
class LineProblem:
    line: int
    text: str
    message: str


def days_of(year: int) -> list[CalendarDay]:
    return list(db.session.scalars(select(CalendarDay).where(
        extract("year", CalendarDay.day) == year).order_by(CalendarDay.day)))


def years() -> list[int]:
    """The years that have entries, and this year and the next (to fill in)."""
    have = {d.year for d in db.session.scalars(select(CalendarDay.day))}
    this = date.today().year
    return sorted(have | {this, this + 1})


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise CalendarError(_("日期“%(text)s”无法识别，请写成 2027-02-06 这样的格式。",
                              text=(text or "").strip()[:20])) from None


def parse_kind(text: str) -> bool:
    """True for a working day, False for a holiday."""
    word = (text or "").strip().lower()
    if word in HOLIDAY_WORDS:
        return False
    if word in WORKDAY_WORDS:
        return True
    raise CalendarError(_("“%(text)s”不是日子的类型：请写“休”（放假）或“班”（调休上班）。",
                          text=(text or "").strip()[:20]))


def clean_name(text: str | None) -> str:
    name = " ".join((text or "").split())
    if len(name) > NAME_MAX:
        raise CalendarError(_("名称最多 %(n)s 个字。", n=NAME_MAX))
    return name


def set_day(actor: User | None, day: date, working: bool, name: str = "") -> CalendarDay:
    """Make ``day`` a holiday or a working day (replacing what it was); audited."""
    row = db.session.get(CalendarDay, day)
    before = {"working": row.working, "name": row.name} if row is not None else None
    if row is None:
        row = CalendarDay(day=day, working=working, name=name)
        db.session.add(row)
    else:
        row.working, row.name = working, name
    db.session.flush()
    if before != {"working": working, "name": name}:
        audit.record(actor, "calendar.set", ("calendar_day", day.isoformat()), before,
                     {"working": working, "name": name}, unit="")
    return row


def remove_day(actor: User | None, day: date) -> bool:
    """``day`` back to what its weekday makes it; False if it was not an exception."""
    row = db.session.get(CalendarDay, day)
    if row is None:
        return False
    audit.record(actor, "calendar.remove", ("calendar_day", day.isoformat()),
                 {"working": row.working, "name": row.name}, None, unit="")
    db.session.delete(row)
    db.session.flush()
    return True


def read_lines(text: str) -> tuple[list[tuple[date, bool, str]], list[LineProblem]]:
    """Lines of ``date,休|班,name`` (commas, tabs or Chinese commas; a header line and
    blank lines are passed over) → the days, and a problem for each line not read.
    CalendarError: more text than MAX_TEXT."""
    days, problems = [], []
    if len(text) > MAX_TEXT:
        raise CalendarError(_("一次最多登记 %(n)s 个字符，请分批登记。", n=MAX_TEXT))
    lines = text.replace("\t", ",").replace("，", ",").replace("\r\n", "\n").split("\n")
    for number, line in enumerate(lines, 1):
        try:
            cells = [c.strip() for c in next(csv.reader([line]), [])]
        except csv.Error:
            cells = [line]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower() in ("date", "日期"):
            continue
        try:
            if len(cells) < 2:
                raise CalendarError(_("每行要有日期和类型，例如：2027-02-06,休,春节"))
            days.append((parse_day(cells[0]), parse_kind(cells[1]),
                         clean_name(cells[2] if len(cells) > 2 else "")))
        except CalendarError as exc:
            problems.append(LineProblem(number, ",".join(cells)[:80], str(exc)))
    return days, problems


def import_lines(actor: User | None, text: str) -> tuple[int, list[LineProblem]]:
    """Set every day the lines give — all of them, or none if any line is bad."""
    days, problems = read_lines(text)
    if problems:
        return 0, problems
    for day, working, name in days:
        set_day(actor, day, working, name)
    return len(days), []


def forget() -> None:
    """After a commit that changed the calendar: this process reads it again at once
    (the others within the cache time).  Not before: a request in between would keep
    the old calendar for the cache time."""
    from webapp.services import process_cache
    from webapp.services.directory import _CALENDAR_KEY

    process_cache.forget(_CALENDAR_KEY)
