"""Open workers' demands (职工诉求) per district, by category and by how long they wait.

A demand counts here from submission until it is answered (the worker's rating step and
closed demands are left out).  Its district is the district of the station it names,
the district that dispatches it.  Buckets, each demand in exactly one:

* overdue (已超期): its current step is past its escalation deadline (3 working days to
  acknowledge, 15 days to answer, as the definition says) — whatever its age;
* otherwise by calendar days (China's) since the day of submission: under 3 (submitted
  today or on the two days before), 3 to 15, over 15.

The counts come from ``open_demand_days`` (webapp/models/reports.py): how many demands
are open per district, category and day of submission, kept by the database in the
transaction that opens or closes a demand.  A day's row lies wholly in one age class,
so the report sums at most districts × categories × days rows whatever the number of
open demands; only the overdue ones are read one by one (found from their escalation
timers), to move them from their age class to "overdue".

``PROCESS`` and ``WAITING_STEPS`` are also written into the triggers of migration
e2a7c5d10b64: changing what counts needs a migration.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, case, exists, func, or_, select

from webapp.extensions import db
from webapp.models import Instance, OpenDemandDay, OrgUnit, Station, Task, Timer, User
from webapp.services.activities import CHINA
from webapp.services.org import in_scope_clause

PROCESS = "worker_demand"
VIEW_ROLES = frozenset({"district_admin", "city_admin", "platform_admin", "supervisor"})
BUCKETS: tuple[tuple[str, str, str], ...] = (
    ("fresh", "3 天内", "Under 3 days"),
    ("waiting", "3–15 天", "3–15 days"),
    ("old", "15 天以上", "Over 15 days"),
    ("overdue", "已超期", "Overdue"),
)
WAITING_STEPS = ("dispatch", "acknowledge", "answer")
FRESH_DAYS = 3  # submitted fewer calendar days ago than this: fresh
OLD_AFTER_DAYS = 15  # more calendar days ago than this: old


@dataclass
class Row:
    key: object  # a district unit or a category value
    counts: dict[str, int] = field(default_factory=lambda: {b[0]: 0 for b in BUCKETS})

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class DemandReport:
    districts: list[Row]
    categories: list[Row]

    @property
    def total(self) -> int:
        return sum(r.total for r in self.districts)


def districts_in_scope(user: User) -> list[OrgUnit]:
    scope = in_scope_clause(user, VIEW_ROLES)
    if scope is None:
        return []
    return list(db.session.scalars(select(OrgUnit).where(
        OrgUnit.kind == "district", OrgUnit.active.is_(True), scope).order_by(OrgUnit.id)))


def local_day(moment: datetime) -> date:
    """The calendar day (China's) of an aware datetime."""
    return moment.astimezone(CHINA).date()


def age_class(opened_on: date, today: date) -> str:
    """The age class of a demand submitted on ``opened_on`` (China's calendar day), as of
    ``today``: fresh (under 3 days), waiting (3 to 15 days) or old."""
    days = (today - opened_on).days
    return "fresh" if days < FRESH_DAYS else "waiting" if days <= OLD_AFTER_DAYS else "old"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, CHINA)


def overdue_clause(now: datetime):
    """SQL: an open demand's escalation came due while its task is open."""
    return exists(select(Timer.id).join(
        Task, and_(Task.instance_id == Timer.instance_id, Task.key == Timer.task_key))
        .where(Timer.instance_id == Instance.id, Task.status == "open",
               Timer.purpose == "escalate",
               or_(Timer.status == "fired", and_(Timer.status == "pending",
                                                 Timer.fire_at <= now))))


def age_bucket(now: datetime):
    """SQL: an open demand's bucket as of ``now``, one demand at a time — the classes
    ``report`` gives (for tests to check it against)."""
    today = local_day(now)
    return case((overdue_clause(now), "overdue"),
                (Instance.created_at >= _midnight(today - timedelta(days=FRESH_DAYS - 1)),
                 "fresh"),
                (Instance.created_at >= _midnight(today - timedelta(days=OLD_AFTER_DAYS)),
                 "waiting"),
                else_="old")


def report(user: User, district: OrgUnit | None = None,
           now: datetime | None = None, since: datetime | None = None,
           until: datetime | None = None) -> DemandReport:
    """Counts of the open demands ``user`` may see, submitted up to the day of ``now``;
    ``since`` / ``until`` (exclusive, at midnight in China, as the filters give them)
    narrow them to the demands submitted on those days."""
    now = now or datetime.now(timezone.utc)
    today = local_day(now)
    districts = [d for d in districts_in_scope(user) if district is None or d.id == district.id]
    by_district = {d.id: Row(d) for d in districts}
    categories: dict[str, Row] = {}
    if not districts:
        return DemandReport([], [])
    days = [OpenDemandDay.opened_on <= today,
            *([OpenDemandDay.opened_on >= local_day(since)] if since else []),
            *([OpenDemandDay.opened_on < local_day(until)] if until else [])]
    bucket = case(
        (OpenDemandDay.opened_on >= today - timedelta(days=FRESH_DAYS - 1), "fresh"),
        (OpenDemandDay.opened_on >= today - timedelta(days=OLD_AFTER_DAYS), "waiting"),
        else_="old")
    rows = db.session.execute(
        select(OpenDemandDay.district_id, OpenDemandDay.category, bucket,
               func.sum(OpenDemandDay.demands))
        .where(OpenDemandDay.district_id.in_(list(by_district)), *days)
        .group_by(OpenDemandDay.district_id, OpenDemandDay.category, bucket))

    def add(district_id, cat, name, count):
        by_district[district_id].counts[name] += count
        categories.setdefault(cat or "", Row(cat or "")).counts[name] += count

    for district_id, cat, name, count in rows:
        add(district_id, cat, name, int(count))
    # The overdue ones, from the escalations that came due (not from every open demand):
    # each leaves the class of its age for "overdue".
    for district_id, cat, created_at in db.session.execute(
            select(Station.district_id, Instance.category, Instance.created_at)
            .join(Station, Station.unit_id == Instance.station_id)
            .where(overdue_clause(now), *_counted(), Station.district_id.in_(list(by_district)))):
        opened_on = local_day(created_at)
        if opened_on > today or (since and opened_on < local_day(since)) or (
                until and opened_on >= local_day(until)):
            continue
        add(district_id, cat, age_class(opened_on, today), -1)
        add(district_id, cat, "overdue", 1)
    return DemandReport(list(by_district.values()),
                        sorted((r for r in categories.values() if r.total),
                               key=lambda r: -r.total))


def _counted():
    """What the report counts (as the triggers of ``open_demand_days`` do)."""
    return (Instance.process_key == PROCESS, Instance.status == "running",
            Instance.steps.in_(WAITING_STEPS))


def category_labels(locale: str) -> dict[str, str]:
    """The category choices of the published worker_demand definition, in ``locale``."""
    from webapp.services.workflow import latest_version, spec_of
    from workflows.errors import NotFound

    try:
        field_ = spec_of(latest_version(PROCESS)).start.form.field("category")
    except NotFound:
        return {}
    en = locale.startswith("en")
    return {c.value: (c.label_en if en and c.label_en else c.label)
            for c in (field_.choices if field_ else ())}


__all__ = ["report", "districts_in_scope", "BUCKETS", "category_labels", "age_class",
           "age_bucket", "local_day"]
