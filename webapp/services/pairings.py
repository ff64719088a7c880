"""Branch–station pairing (结对): a party branch takes on a station for station-master duty.

A branch is paired with one station at a time (pairing with another ends the current
one; the database holds a branch to one current row); a station may have several
branches.  The branch's secretary decides, or an administrator above the branch.  Each
period is a row of its own (``since`` to ``ended_on``), so a branch's past pairings stay
on record.  Only active units pair, and deactivating a branch or a station ends its
current pairings that day.  Every pairing and every end is in the audit log
(``pairing.create``, ``pairing.end``, the latter with its ``cause`` unless ended by hand).
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import OrgUnit, Pairing, User
from webapp.services import audit
from workflows.errors import Conflict, NotAllowed

ADMIN_ROLES = frozenset({"unit_admin", "district_admin", "city_admin", "platform_admin"})
# Why a pairing ended, when not by hand (the audit log's ``cause``).
MOVED = "moved"  # the branch paired with another station
BRANCH_DEACTIVATED = "branch_deactivated"
STATION_DEACTIVATED = "station_deactivated"


def branches_for(user: User) -> list[OrgUnit]:
    """The branches ``user`` may pair: where they are secretary (admins pair from the
    branch's own page in the tree, not here)."""
    return sorted({m.unit for m in user.memberships
                   if m.role == "branch_secretary" and m.unit.kind == "branch" and m.unit.active},
                  key=lambda u: u.path)


def may_manage(user: User, branch: OrgUnit) -> bool:
    for m in user.memberships:
        if m.role == "branch_secretary" and m.unit_id == branch.id:
            return True
        if m.role in ADMIN_ROLES and branch.path.startswith(m.unit.path):
            return True
    return False


def branch_pairings(branch: OrgUnit, *, lock: bool = False) -> list[Pairing]:
    """The branch's pairing now (one at a time), as a list; ``lock``: about to change it."""
    stmt = select(Pairing).where(Pairing.branch_id == branch.id, Pairing.ended_on.is_(None))
    return db.session.scalars(stmt.with_for_update() if lock else stmt).all()


def branch_history(branch: OrgUnit, first: date | None = None,
                   last: date | None = None) -> list[Pairing]:
    """Every period of the branch's pairings, the current one included, oldest first;
    with ``first``/``last``, only the periods that overlap those days."""
    stmt = select(Pairing).where(Pairing.branch_id == branch.id)
    if first is not None:
        stmt = stmt.where(or_(Pairing.ended_on.is_(None), Pairing.ended_on >= first))
    if last is not None:
        stmt = stmt.where(Pairing.since <= last)
    return db.session.scalars(stmt.options(selectinload(Pairing.station))
                              .order_by(Pairing.since, Pairing.id)).all()


def active_pairings(station: OrgUnit) -> list[Pairing]:
    return db.session.scalars(select(Pairing).where(
        Pairing.station_id == station.id, Pairing.ended_on.is_(None))
        .order_by(Pairing.since, Pairing.id)).all()


def past_pairings(station: OrgUnit) -> list[Pairing]:
    """The station's ended pairings, the latest ended first."""
    return db.session.scalars(select(Pairing).where(
        Pairing.station_id == station.id, Pairing.ended_on.is_not(None))
        .options(selectinload(Pairing.branch))
        .order_by(Pairing.ended_on.desc(), Pairing.id.desc())).all()


def pair(branch: OrgUnit, station: OrgUnit, actor: User, today: date) -> Pairing:
    """Pair ``branch`` with ``station`` from ``today``: a new period, its own row; the
    branch's current pairing (with another station) ends today."""
    if branch.kind != "branch" or station.kind != "station":
        raise NotAllowed("只能由党支部与驿站结对", "Only a party branch can pair with a station")
    if not may_manage(actor, branch):
        raise NotAllowed("只有本支部书记或上级工会管理员可以办理结对",
                         "Only the branch secretary or an administrator above can pair")
    # The branch's row, locked first: two pairings of one branch at once (the branch has
    # no current pairing to lock yet) wait for each other, and the second sees the first.
    # The station's row is shared-locked: a deactivation of either waits for this pairing
    # (then ends it), or this waits for the deactivation and reads the unit inactive.
    branch_active = db.session.scalar(select(OrgUnit.active).where(OrgUnit.id == branch.id)
                                      .with_for_update(key_share=True))
    station_active = db.session.scalar(select(OrgUnit.active).where(OrgUnit.id == station.id)
                                       .with_for_update(read=True))
    if not branch_active:
        raise Conflict("该党支部已停用，不能结对", "This party branch is deactivated and cannot pair",
                       code="unit_inactive")
    if not station_active:
        raise Conflict("该驿站已停用，不能结对", "This station is deactivated and cannot be paired with",
                       code="unit_inactive")
    current = branch_pairings(branch, lock=True)
    if any(p.station_id == station.id for p in current):
        raise Conflict("本支部已与该驿站结对", "The branch is already paired with this station",
                       code="already_paired")
    for earlier in current:
        _close(earlier, actor, today, MOVED)
    pairing = Pairing(branch=branch, station=station, since=today)
    db.session.add(pairing)
    db.session.flush()
    audit.record(actor, "pairing.create", pairing, {}, {
        "branch": branch.code, "station": station.code, "since": pairing.since}, unit=branch)
    return pairing


def end(pairing: Pairing, actor: User, today: date) -> None:
    """End ``pairing`` on ``today``; the row stays, as the branch's past period."""
    if not may_manage(actor, pairing.branch):
        raise NotAllowed("只有本支部书记或上级工会管理员可以解除结对",
                         "Only the branch secretary or an administrator above can end a pairing")
    db.session.refresh(pairing, with_for_update=True)  # ended meanwhile by someone else?
    if pairing.ended_on is not None:
        raise Conflict("该结对已经解除", "This pairing has already ended", code="already_ended")
    _close(pairing, actor, today)


def end_for_deactivated(unit: OrgUnit, actor: User | None, today: date) -> list[Pairing]:
    """End today every current pairing of ``unit`` (a branch or a station) as it is
    deactivated; the caller has checked the actor may deactivate it (a station's
    pairings end whoever manages their branches).  Returns the pairings ended."""
    if unit.kind == "branch":
        column, cause = Pairing.branch_id, BRANCH_DEACTIVATED
    elif unit.kind == "station":
        column, cause = Pairing.station_id, STATION_DEACTIVATED
    else:
        return []
    current = db.session.scalars(
        select(Pairing).where(column == unit.id, Pairing.ended_on.is_(None))
        .order_by(Pairing.id).with_for_update()).all()
    for pairing in current:
        _close(pairing, actor, today, cause)
    return current


def _close(pairing: Pairing, actor: User | None, today: date, cause: str | None = None) -> None:
    """End a current pairing (locked by the caller) on ``today`` and log it."""
    pairing.ended_on = max(today, pairing.since)
    db.session.flush()
    # The period as it was, and how it ended (no ``cause``: by hand).
    audit.record(actor, "pairing.end", pairing, {
        "branch": pairing.branch.code, "station": pairing.station.code,
        "since": pairing.since}, {"ended_on": pairing.ended_on, "cause": cause},
        unit=pairing.branch)
