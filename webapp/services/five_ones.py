"""The "五个一" of station-master duty (我在工会驿站当站长), per party branch and year.

What counts: the branch's station-master requests (an applicant whose unit was the branch
when they signed up) for a duty slot that starts in the year, once the station head has
confirmed the hours (the request is completed).  A branch has done an item of the five
when at least one such duty shows it:

| item | from the duty report |
|---|---|
| 一次值守 (duty)          | a confirmed duty |
| 一份清单 (checklist)     | a report whose checklist has every check ticked |
| 一批社情民意 (opinions)  | opinions collected ≥ 1 |
| 一个微心愿 (wish)        | wishes lit ≥ 1 |
| 一次活动 (event)         | an event held |

Reports still waiting for the station head are shown apart and count for nothing yet.
docs/five-ones.md says the same for people.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from sqlalchemy import or_, select

from webapp.extensions import db
from webapp.models import DefinitionVersion, DutySlot, Instance, OrgUnit, User
from webapp.services.activities import CHINA
from webapp.services.org import in_scope_clause
from workflows.org import Term

PROCESS = "station_master"
VIEW_ROLES = frozenset({"branch_secretary", "unit_admin", "district_admin", "city_admin",
                        "platform_admin", "supervisor"})


ITEMS: tuple[Term, ...] = (
    Term("duty", "一次值守", "One duty served"),
    Term("checklist", "一份完整清单", "One full checklist"),
    Term("opinions", "一批社情民意", "Opinions collected"),
    Term("wish", "一个微心愿", "One wish lit"),
    Term("event", "一次活动", "One event held"),
)


@dataclass
class Duty:
    instance_id: int
    applicant: str
    station: str
    starts_at: datetime
    confirmed: bool
    status: str
    checklist: int
    checklist_full: bool
    opinions: int
    wishes: int
    event: bool
    hours: float


@dataclass
class BranchProgress:
    branch: OrgUnit
    counts: dict[str, int] = field(default_factory=lambda: {i.key: 0 for i in ITEMS})
    pending: int = 0  # reports waiting for the station head
    hours: float = 0.0
    duties: list[Duty] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(1 for i in ITEMS if self.counts[i.key] > 0)

    @property
    def percent(self) -> int:
        return self.done * 100 // len(ITEMS)


def branches_query(user: User, district: OrgUnit | None = None):
    """The party branches in ``user``'s scope (a secretary: their own), by path; None if
    the user may see none."""
    scope = in_scope_clause(user, VIEW_ROLES)
    if scope is None:
        return None
    stmt = select(OrgUnit).where(OrgUnit.kind == "branch", OrgUnit.active.is_(True), scope)
    if district is not None:
        stmt = stmt.where(district.subtree_clause())
    return stmt.order_by(OrgUnit.path)


def may_view(user: User, branch: OrgUnit) -> bool:
    stmt = branches_query(user)
    return stmt is not None and db.session.scalar(
        stmt.with_only_columns(OrgUnit.id).where(OrgUnit.id == branch.id)) is not None


def year_bounds(year: int) -> tuple[datetime, datetime]:
    return (datetime(year, 1, 1, tzinfo=CHINA), datetime(year + 1, 1, 1, tzinfo=CHINA))


def progress(branches: list[OrgUnit], year: int, locale: str = "zh") -> list[BranchProgress]:
    """Each branch's five items for ``year``, from its members' duties (three queries,
    each by index, whatever the city holds); stations named in ``locale``."""
    out = {b.path: BranchProgress(b) for b in branches}
    if not out:
        return []
    start, end = year_bounds(year)
    # Three small queries rather than one join: the branches' reports by their paths
    # (ix_instances_process_unit_path), then only their slots and applicants by id.  As
    # one join PostgreSQL expected thousands of rows from the 30 paths and hashed every
    # station-master request, duty slot and unit of the city to find none.
    # A branch has no units below it: its members' requests carry exactly its path.
    found = db.session.execute(
        select(Instance.id, Instance.unit_path, Instance.status, Instance.steps,
               Instance.version_id, Instance.state["data"], Instance.applicant_id)
        .where(Instance.process_key == PROCESS, Instance.unit_path.in_(list(out)),
               # signed up, waiting, no-show: no report to count
               or_(Instance.status == "completed", Instance.steps == "confirm"))).all()
    wanted = {_slot(r[5]) for r in found} - {None}
    english = locale.startswith("en")
    slots = {sid: (starts, name_en if english and name_en else where)
             for sid, starts, where, name_en in db.session.execute(
        select(DutySlot.id, DutySlot.starts_at, OrgUnit.name, OrgUnit.name_en)
        .join(OrgUnit, OrgUnit.id == DutySlot.station_id)
        .where(DutySlot.id.in_(sorted(wanted)), DutySlot.starts_at >= start,
               DutySlot.starts_at < end))} if wanted else {}
    found = [r for r in found if _slot(r[5]) in slots]
    names = {uid: name for uid, name in db.session.execute(
        select(User.id, User.display_name).where(User.id.in_(sorted({r[6] for r in found}))))
             } if found else {}
    rows = sorted(((iid, path, status, steps, version_id, data, names.get(applicant),
                    *reversed(slots[_slot(data)]))
                   for iid, path, status, steps, version_id, data, applicant in found),
                  key=lambda r: (r[8], r[0]))
    for iid, path, status, steps, version_id, data, who, where, starts in rows:
        data = data or {}
        confirmed = status == "completed"
        if not confirmed and steps != "confirm":
            continue  # signed up, waiting, no-show: no report to count
        checks = data.get("checklist") or []
        duty = Duty(iid, who, where, starts, confirmed, status, len(checks),
                    set(checks) >= _all_checks(version_id), _int(data.get("opinions_count")),
                    _int(data.get("wishes_lit")), data.get("event_held") is True,
                    _number(data.get("confirmed_hours") if confirmed else data.get("hours")))
        entry = out[path]
        entry.duties.append(duty)
        if not confirmed:
            entry.pending += 1
            continue
        entry.hours += duty.hours
        for key, hit in (("duty", True), ("checklist", duty.checklist_full),
                         ("opinions", duty.opinions > 0), ("wish", duty.wishes > 0),
                         ("event", duty.event)):
            entry.counts[key] += 1 if hit else 0
    return list(out.values())


def _slot(data) -> int | None:
    """The duty slot a request names (an id, as the form stores it), or None."""
    from webapp.pagination import as_id

    value = data.get("slot") if isinstance(data, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value <= 2**31 - 1 else None
    return as_id(value)


@lru_cache(maxsize=64)
def _checks_of(version_id: int, source_digest: str) -> frozenset[str]:
    from webapp.services.workflow import spec_of

    version = db.session.get(DefinitionVersion, version_id)
    for form in [s.form for s in spec_of(version).steps]:
        found = form.field("checklist")
        if found is not None:
            return frozenset(c.value for c in found.choices)
    return frozenset()


def _all_checks(version_id: int) -> frozenset[str]:
    digest = db.session.scalar(select(DefinitionVersion.digest).where(
        DefinitionVersion.id == version_id))
    return _checks_of(version_id, digest or "")


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def current_year() -> int:
    return datetime.now(CHINA).year
