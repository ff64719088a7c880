"""The numbers behind the report pages, each one grouped query (GROUP BY in the database).

Every report takes the viewer and ``Filters`` (a time range and a unit in the viewer's
scope) and counts only what the viewer's roles cover — the same rule as the lists they
open (``in_scope_clause`` over the oversight roles).  docs/reports.md defines each one.

Medians: PostgreSQL computes them in the grouped query (``percentile_cont(0.5)``).
SQLite has no such aggregate; there each group's median is read with ORDER BY … LIMIT
1 or 2 OFFSET (n-1)/2 — one small indexed query per step, never all the rows in Python.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, case, cast, exists, func, literal, or_, select
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.models import (Course, Instance, OrgUnit, ProcessDefinition, Reservation,
                           Station, Task, Timer, User)
from webapp.services.access import OVERSIGHT_ROLES
from webapp.services.activities import CHINA
from webapp.services.org import in_scope_clause

VIEW_ROLES = OVERSIGHT_ROLES
MAX_RANGE_DAYS = 3 * 366
UNIT_KINDS = ("city", "district", "street", "enterprise")


# ------------------------------------------------------------------------------ filters

@dataclass
class Filters:
    since: date | None = None
    until: date | None = None
    unit: OrgUnit | None = None
    raw: dict[str, str] = field(default_factory=dict)
    errors: dict[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> datetime | None:
        return datetime.combine(self.since, time.min, CHINA) if self.since else None

    @property
    def end(self) -> datetime | None:
        """Exclusive: the start of the day after ``until``."""
        return (datetime.combine(self.until + timedelta(days=1), time.min, CHINA)
                if self.until else None)

    def args(self) -> dict[str, str]:
        return {k: v for k, v in self.raw.items() if v}

    def window(self, column):
        """WHERE clauses: ``column`` within the time range."""
        out = []
        if self.start is not None:
            out.append(column >= self.start)
        if self.end is not None:
            out.append(column < self.end)
        return out


def _day(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        return None


def parse_filters(args: Mapping[str, str], viewer: User) -> Filters:
    """The time range and unit as typed; what cannot be used gets a message, and the
    report then shows nothing rather than a guess."""
    raw = {k: (args.get(k) or "").strip()[:32] for k in ("since", "until", "unit")}
    f = Filters(raw=raw)
    for name in ("since", "until"):
        if raw[name]:
            value = _day(raw[name])
            if value is None or not 2000 <= value.year <= 2100:
                f.errors[name] = _l("请按 年-月-日 填写日期，例如 2026-03-01")
            setattr(f, name, value if name not in f.errors else None)
    if f.since and f.until:
        if f.since > f.until:
            f.errors["until"] = _l("截止日期不能早于起始日期")
        elif (f.until - f.since).days > MAX_RANGE_DAYS:
            f.errors["until"] = _l("时间范围最长三年")
    if raw["unit"]:
        unit = None
        if raw["unit"].isdigit() and len(raw["unit"]) < 10:
            scope = in_scope_clause(viewer, VIEW_ROLES)
            if scope is not None:
                unit = db.session.scalar(select(OrgUnit).where(
                    OrgUnit.id == int(raw["unit"]), scope))
        if unit is None:
            f.errors["unit"] = _l("没有这个单位，或不在您负责的范围内")
        f.unit = unit
    return f


def unit_choices(viewer: User) -> list[OrgUnit]:
    """Units offered in the filter: the viewer's own units and the city and district
    unions below them (any unit in scope is accepted when typed into the address)."""
    scope = in_scope_clause(viewer, VIEW_ROLES)
    if scope is None:
        return []
    own = {m.unit_id for m in viewer.memberships if m.role in VIEW_ROLES}
    return list(db.session.scalars(select(OrgUnit).where(
        scope, OrgUnit.active.is_(True),
        or_(OrgUnit.id.in_(own), OrgUnit.kind.in_(("city", "district"))))
        .order_by(OrgUnit.path).limit(200)))


def may_view(viewer: User) -> bool:
    return any(m.role in VIEW_ROLES for m in viewer.memberships)


def _scope(viewer: User, path_column, f: Filters):
    """WHERE clauses: ``path_column`` in the viewer's scope and under the chosen unit."""
    scope = in_scope_clause(viewer, VIEW_ROLES, path_column)
    clauses = [scope if scope is not None else literal(False)]
    if f.unit is not None:
        clauses.append(f.unit.subtree_clause(path_column))
    if f.errors:
        clauses.append(literal(False))
    return clauses


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def local_month(column):
    """'YYYY-MM' of a UTC timestamp, in China time."""
    if _dialect() == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM")
    return func.strftime("%Y-%m", column, "+8 hours")


def hours_between(start, end):
    if _dialect() == "postgresql":
        return func.extract("epoch", end - start) / 3600.0
    return (func.julianday(end) - func.julianday(start)) * 24.0


def process_names(locale: str) -> dict[str, str]:
    en = locale.startswith("en")
    return {key: (name_en if en and name_en else name) for key, name, name_en in db.session.execute(
        select(ProcessDefinition.key, ProcessDefinition.name, ProcessDefinition.name_en))}


def retired_processes() -> set[str]:
    """The keys of retired processes: their requests still count, but a filter says so."""
    return set(db.session.scalars(select(ProcessDefinition.key).where(
        ProcessDefinition.retired.is_(True))))


# ------------------------------------------------------------------------------ processes

@dataclass
class ProcessRow:
    key: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class ProcessReport:
    processes: list[ProcessRow]
    statuses: list[str]
    months: list[str]
    by_month: dict[str, dict[str, int]]  # process → month → started


def processes_report(viewer: User, f: Filters, process: str | None = None) -> ProcessReport:
    """Requests per process by status, and started per month (China time)."""
    where = [Instance.status != "starting", *_scope(viewer, Instance.unit_path, f),
             *f.window(Instance.created_at)]
    if process:
        where.append(Instance.process_key == process)
    rows: dict[str, ProcessRow] = {}
    statuses: dict[str, None] = {}
    for key, status, n in db.session.execute(
            select(Instance.process_key, Instance.status, func.count()).where(*where)
            .group_by(Instance.process_key, Instance.status)
            .order_by(Instance.process_key, Instance.status)):
        rows.setdefault(key, ProcessRow(key)).counts[status] = n
        statuses[status] = None
    month = local_month(Instance.created_at).label("month")
    by_month: dict[str, dict[str, int]] = {}
    months: set[str] = set()
    for key, m, n in db.session.execute(
            select(Instance.process_key, month, func.count()).where(*where)
            .group_by(Instance.process_key, month)):
        by_month.setdefault(key, {})[m] = n
        months.add(m)
    ordered = sorted(statuses, key=lambda s: (STATUS_ORDER.index(s) if s in STATUS_ORDER
                                              else 99, s))
    # The range asked for, whole (a quiet month shows as 0), within what has happened.
    now = datetime.now(CHINA).date()
    if f.since is not None:
        months.add(f"{f.since:%Y-%m}")
    if f.until is not None or f.since is not None:
        months.add(f"{min(f.until or now, now):%Y-%m}")
    return ProcessReport(list(rows.values()), ordered, _fill_months(sorted(months)), by_month)


# Every status a request may have, in the order the reports list them: a download has a
# column for each whatever it holds, so those of several districts line up.
STATUS_ORDER = ["running", "returned", "waitlisted", "completed", "approved", "rejected",
                "withdrawn", "cancelled", "expired"]


def _fill_months(months: list[str]) -> list[str]:
    """Every month from the first to the last (a quiet month shows as 0)."""
    if not months:
        return []
    year, month = map(int, months[0].split("-"))
    out = []
    while f"{year:04d}-{month:02d}" <= months[-1] and len(out) < 120:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


# ------------------------------------------------------------------------------ steps

@dataclass
class StepRow:
    process: str
    step: str
    tasks: int
    closed: int
    median_hours: float | None
    with_sla: int
    breaches: int
    # The applicant's own task of fixing a request the step returned to them: reported
    # beside the step, not in it (the reviewers' time is not the applicant's).
    revise: bool = False


# A task closed because its request was withdrawn or cancelled was not completed at its
# step: it is counted as a task (and late if it waited past its deadline), not as done.
NOT_DONE = ("withdrawn", "cancelled")


def _deadline_joins(stmt):
    """Join each task's SLA deadline: its escalation time if the step declares
    ``escalate_after``, else its reminder time (``remind_after``)."""
    esc, rem = aliased(Timer), aliased(Timer)
    stmt = (stmt.outerjoin(esc, and_(esc.instance_id == Task.instance_id,
                                     esc.task_key == Task.key, esc.purpose == "escalate"))
            .outerjoin(rem, and_(rem.instance_id == Task.instance_id,
                                 rem.task_key == Task.key, rem.purpose == "remind")))
    return stmt, func.coalesce(esc.fire_at, rem.fire_at)


def steps_report(viewer: User, f: Filters, process: str | None = None,
                 now: datetime | None = None) -> list[StepRow]:
    """Per process and step: tasks opened in the range, how many closed, the median time
    from open to close (hours) and how many went past their SLA deadline (closed after
    it, or still open after it).  Withdrawn and cancelled requests' tasks are not counted
    as completed; an applicant's fixing of a returned request is a row of its own."""
    now = now or datetime.now(timezone.utc)
    where = [*_scope(viewer, Instance.unit_path, f), *f.window(Task.opened_at)]
    if process:
        where.append(Instance.process_key == process)
    base = select().select_from(Task).join(Instance, Instance.id == Task.instance_id)
    base, deadline = _deadline_joins(base)
    duration = hours_between(Task.opened_at, Task.closed_at)
    finished = func.coalesce(Task.closed_at, now)
    breach = case((and_(deadline.is_not(None), finished > deadline), 1), else_=0)
    done = _done()
    revise = case((Task.kind == "revise", 1), else_=0)
    columns = [Instance.process_key, Task.step, revise, func.count(Task.id),
               func.count(case((done, 1))), func.count(deadline), func.sum(breach)]
    postgres = _dialect() == "postgresql"
    if postgres:
        columns.append(func.percentile_cont(0.5).within_group(case((done, duration))))
    stmt = (base.add_columns(*columns).where(*where)
            .group_by(Instance.process_key, Task.step, revise)
            .order_by(Instance.process_key, func.min(Task.opened_at), revise))
    rows = []
    for key, step, is_revise, n, closed, with_sla, breaches, *median in db.session.execute(stmt):
        value = median[0] if postgres else _median_sqlite(
            where, key, step, bool(is_revise), closed, duration)
        rows.append(StepRow(key, step, n, closed, None if value is None else float(value),
                            with_sla, int(breaches or 0), bool(is_revise)))
    return rows


def _done():
    """A task completed at its step: closed, and not by its request's withdrawal."""
    return and_(Task.closed_at.is_not(None),
                or_(Task.outcome.is_(None), Task.outcome.not_in(NOT_DONE)))


def _median_sqlite(where, key: str, step: str, revise: bool, n: int, duration):
    if not n:
        return None
    values = db.session.scalars(
        select(duration).select_from(Task).join(Instance, Instance.id == Task.instance_id)
        .where(*where, Instance.process_key == key, Task.step == step, _done(),
               (Task.kind == "revise") if revise else (Task.kind != "revise"))
        .order_by(duration).limit(2 - n % 2).offset((n - 1) // 2)).all()
    return sum(values) / len(values) if values else None


def step_labels(keys: set[str], locale: str) -> StepLabels:
    """Each process's step names by (process, step id), from its newest version; a
    step id only an older version has (a request still on it after a version renamed
    it) is looked up in the older versions when asked for (``get``)."""
    from webapp.services.progress import step_label
    from webapp.services.workflow import latest_version, spec_of
    from workflows.errors import NotFound

    out = StepLabels(locale)
    for key in keys:
        try:
            spec = spec_of(latest_version(key))
        except NotFound:
            continue
        for step in spec.steps:
            out[(key, step.id)] = step_label(spec, step.id, locale)
    return out


class StepLabels(dict):
    """``step_labels``' answer: older versions are read only for a step id the newest
    does not have, once per process."""

    def __init__(self, locale: str):
        super().__init__()
        self.locale = locale
        self._older_read: set[str] = set()

    def get(self, key, default=None):
        if key not in self and isinstance(key, tuple) and key[0] not in self._older_read:
            self._read_older(key[0])
        return super().get(key, default)

    def _read_older(self, process_key: str) -> None:
        from webapp.models import DefinitionVersion, ProcessDefinition
        from webapp.services.progress import step_label
        from webapp.services.workflow import spec_of

        self._older_read.add(process_key)
        versions = db.session.scalars(
            select(DefinitionVersion).join(ProcessDefinition)
            .where(ProcessDefinition.key == process_key)
            .order_by(DefinitionVersion.version.desc()))
        for version in versions:  # newest first: a step keeps its latest name
            spec = spec_of(version)
            for step in spec.steps:
                self.setdefault((process_key, step.id), step_label(spec, step.id, self.locale))


# ------------------------------------------------------------------------------ wishes

WISH = "micro_wish"


@dataclass
class WishRow:
    unit_id: int
    name: str
    name_en: str | None
    submitted: int
    claimed: int
    fulfilled: int

    def label(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") and self.name_en else self.name


def wishes_query(viewer: User, f: Filters, by: str = "district"):
    """SELECT (unit id, name, name_en, submitted, claimed, fulfilled) per district or per
    station: wishes submitted in the range at stations in the viewer's scope.

    Claimed: the wish was ever taken from the wall (a claim task closed as claimed);
    fulfilled: the wish ended completed (the wisher confirmed, or did not answer in time).
    """
    station_unit = aliased(OrgUnit)
    group = aliased(OrgUnit)
    claimed = exists(select(Task.id).where(Task.instance_id == Instance.id,
                                           Task.kind == "claim", Task.outcome == "claimed"))
    stmt = (select(group.id, group.name, group.name_en, func.count(Instance.id),
                   func.sum(case((claimed, 1), else_=0)),
                   func.sum(case((Instance.status == "completed", 1), else_=0)))
            .select_from(Instance)
            .join(Station, Station.unit_id == Instance.station_id)
            .join(station_unit, station_unit.id == Station.unit_id)
            .join(group, group.id == (Station.district_id if by == "district"
                                      else Station.unit_id))
            .where(Instance.process_key == WISH, Instance.status != "starting",
                   *_scope(viewer, station_unit.path, f), *f.window(Instance.created_at))
            .group_by(group.id, group.name, group.name_en))
    return stmt.order_by(func.count(Instance.id).desc(), group.name)


def wish_rows(stmt) -> list[WishRow]:
    return [WishRow(*row[:3], row[3], int(row[4] or 0), int(row[5] or 0))
            for row in db.session.execute(stmt)]


# ------------------------------------------------------------------------------ courses

@dataclass
class CourseRow:
    course: Course
    enrolled: int
    waitlisted: int
    registered: int = 0
    completed: int = 0
    not_completed: int = 0
    withdrawn: int = 0

    @property
    def fill(self) -> int:
        return round(self.enrolled * 100 / self.course.capacity) if self.course.capacity else 0

    @classmethod
    def of(cls, row) -> "CourseRow":
        """A row of ``courses_query``."""
        return cls(row[0], *(int(n or 0) for n in row[1:]))


def courses_query(viewer: User, f: Filters):
    """SELECT (course, enrolled, waitlisted, registered, completed, not completed,
    certificates withdrawn) for courses run by units in scope that start in the range —
    one statement, whatever the number of courses (two grouped subqueries joined on the
    course's key, ``course:<id>``):

    * enrolled: places granted; waitlisted: on the waiting list now (its reservations);
    * registered: every registration for it (its unique key), however it went on or ended;
    * completed: registrations that end completed (the certificate stands);
    * not completed: judged short of attendance (an attendance step's ``failed`` end);
    * withdrawn: certificates issued and since withdrawn — registrations corrected from
      completed that are not completed now (``training.withdrawal_of``), a part of the
      not completed ones.
    """
    from webapp.models import HistoryEntry
    from webapp.services.training import REGISTRATION_PROCESS, attendance_ends

    key = literal("course:") + cast(Course.id, String)
    counts = (select(Reservation.resource_key.label("key"),
                     func.sum(case((Reservation.status == "granted", 1), else_=0)).label("granted"),
                     func.sum(case((Reservation.status == "waitlisted", 1), else_=0))
                     .label("waiting"))
              .where(Reservation.resource_key.startswith("course:"))
              .group_by(Reservation.resource_key).subquery())
    _passed, failed = attendance_ends(REGISTRATION_PROCESS)
    completed = Instance.status == "completed"
    withdrawn = and_(~completed, exists(select(HistoryEntry.id).where(
        HistoryEntry.instance_id == Instance.id, HistoryEntry.action == "correct",
        HistoryEntry.data[("details", "before_status")].as_string() == "completed")))
    registrations = (
        select(Instance.unique_key.label("key"), func.count(Instance.id).label("registered"),
               func.sum(case((completed, 1), else_=0)).label("completed"),
               func.sum(case((and_(~completed, Instance.state["end"].as_string().in_(failed)),
                              1), else_=0)).label("not_completed"),
               func.sum(case((withdrawn, 1), else_=0)).label("withdrawn"))
        .where(Instance.process_key == REGISTRATION_PROCESS, Instance.status != "starting",
               Instance.unique_key.startswith("course:"))
        .group_by(Instance.unique_key).subquery())
    zero = lambda column: func.coalesce(column, 0)  # noqa: E731
    return (select(Course, zero(counts.c.granted), zero(counts.c.waiting),
                   zero(registrations.c.registered), zero(registrations.c.completed),
                   zero(registrations.c.not_completed), zero(registrations.c.withdrawn))
            .join(OrgUnit, OrgUnit.id == Course.unit_id)
            .outerjoin(counts, counts.c.key == key)
            .outerjoin(registrations, registrations.c.key == key)
            .where(*_scope(viewer, OrgUnit.path, f),
                   *[c for c in (Course.starts_on >= f.since if f.since else None,
                                 Course.starts_on <= f.until if f.until else None)
                     if c is not None])
            .order_by(Course.starts_on.desc(), Course.id))


def course_rows(stmt) -> list[CourseRow]:
    return [CourseRow.of(row) for row in db.session.execute(stmt)]


__all__ = ["Filters", "parse_filters", "unit_choices", "processes_report", "steps_report",
           "wishes_query", "courses_query", "VIEW_ROLES"]
