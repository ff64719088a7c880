"""Open workers' demands (职工诉求) per district, by category and by how long they wait.

A demand counts here from submission until it is answered (the worker's rating step and
closed demands are left out).  Its district is the district of the station it names,
the district that dispatches it.  Buckets, each demand in exactly one:

* overdue (已超期): its current step is past its escalation deadline (3 working days to
  acknowledge, 15 days to answer, as the definition says) — whatever its age;
* otherwise by days since submission: under 3, 3 to 15, over 15.

The scope is a range scan on the district's materialised path; the demands themselves
come by the (process, status) index, their station and category from the instance's own
columns (never from the JSON state, whose reading grew with the number of demands).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, case, exists, func, or_, select

from webapp.extensions import db
from webapp.models import Instance, OrgUnit, Station, Task, Timer, User
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


def age_bucket(now: datetime):
    """SQL: an open demand's age class — overdue (its escalation came due while its task
    is open), fresh (< 3 days), waiting (≤ 15 days) or old."""
    overdue = exists(select(Timer.id).join(
        Task, and_(Task.instance_id == Timer.instance_id, Task.key == Timer.task_key))
        .where(Timer.instance_id == Instance.id, Task.status == "open",
               Timer.purpose == "escalate",
               or_(Timer.status == "fired", and_(Timer.status == "pending",
                                                 Timer.fire_at <= now))))
    return case((overdue, "overdue"),
                (Instance.created_at > now - timedelta(days=3), "fresh"),
                (Instance.created_at >= now - timedelta(days=15), "waiting"),
                else_="old")


def report(user: User, district: OrgUnit | None = None,
           now: datetime | None = None, since: datetime | None = None,
           until: datetime | None = None) -> DemandReport:
    """Counts of the open demands ``user`` may see (in one grouped query); ``since`` /
    ``until`` (exclusive) narrow them to those submitted in that time."""
    now = now or datetime.now(timezone.utc)
    districts = [d for d in districts_in_scope(user) if district is None or d.id == district.id]
    by_district = {d.id: Row(d) for d in districts}
    categories: dict[str, Row] = {}
    if not districts:
        return DemandReport([], [])
    bucket = age_bucket(now)
    # Category and station come from the instance's columns (copies of its form data,
    # instance_columns.py), not from parsing each open demand's JSON state.
    open_demands = (
        select(Station.district_id.label("district_id"), Instance.category.label("category"),
               bucket.label("bucket"))
        .join(Station, Station.unit_id == Instance.station_id)
        .where(Instance.process_key == PROCESS, Instance.status == "running",
               Instance.steps.in_(WAITING_STEPS), Instance.created_at <= now,
               Station.district_id.in_(list(by_district)),
               *([Instance.created_at >= since] if since else []),
               *([Instance.created_at < until] if until else []))
        .subquery())
    rows = db.session.execute(
        select(open_demands.c.district_id, open_demands.c.category, open_demands.c.bucket,
               func.count())
        .group_by(open_demands.c.district_id, open_demands.c.category, open_demands.c.bucket))
    for district_id, cat, name, count in rows:
        by_district[district_id].counts[name] += count
        categories.setdefault(cat or "", Row(cat or "")).counts[name] += count
    return DemandReport(list(by_district.values()),
                        sorted(categories.values(), key=lambda r: -r.total))


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


__all__ = ["report", "districts_in_scope", "BUCKETS", "category_labels"]
