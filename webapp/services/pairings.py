"""Branch–station pairing (结对): a party branch takes on a station for station-master duty.

A branch is paired with one station at a time (pairing with another ends the current
one); a station may have several branches.  The branch's secretary decides, or an
administrator above the branch.  Each period is a row of its own (``since`` to
``ended_on``), so a branch's past pairings stay on record.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import OrgUnit, Pairing, User
from workflows.errors import Conflict, NotAllowed

ADMIN_ROLES = frozenset({"unit_admin", "district_admin", "city_admin", "platform_admin"})


def branches_for(user: User) -> list[OrgUnit]:
    """The branches ``user`` may pair: where they are secretary (admins pair from the
    branch's own page in the tree, not here)."""
    return sorted({m.unit for m in user.memberships
                   if m.role == "branch_secretary" and m.unit.kind == "branch"},
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
    db.session.execute(select(OrgUnit.id).where(OrgUnit.id == branch.id)
                       .with_for_update(key_share=True))
    current = branch_pairings(branch, lock=True)
    if any(p.station_id == station.id for p in current):
        raise Conflict("本支部已与该驿站结对", "The branch is already paired with this station",
                       code="already_paired")
    for earlier in current:
        earlier.ended_on = max(today, earlier.since)
    pairing = Pairing(branch=branch, station=station, since=today)
    db.session.add(pairing)
    db.session.flush()
    return pairing


def end(pairing: Pairing, actor: User, today: date) -> None:
    """End ``pairing`` on ``today``; the row stays, as the branch's past period."""
    if not may_manage(actor, pairing.branch):
        raise NotAllowed("只有本支部书记或上级工会管理员可以解除结对",
                         "Only the branch secretary or an administrator above can end a pairing")
    db.session.refresh(pairing, with_for_update=True)  # ended meanwhile by someone else?
    if pairing.ended_on is not None:
        raise Conflict("该结对已经解除", "This pairing has already ended", code="already_ended")
    pairing.ended_on = max(today, pairing.since)
    db.session.flush()
