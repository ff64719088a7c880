"""Branch–station pairing (结对): a party branch takes on a station for station-master duty.

A branch is paired with one station at a time (pairing with another ends the current
one); a station may have several branches.  The branch's secretary decides, or an
administrator above the branch.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

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
    stmt = select(Pairing).where(Pairing.branch_id == branch.id, Pairing.active.is_(True))
    return db.session.scalars(stmt.with_for_update() if lock else stmt).all()


def active_pairings(station: OrgUnit) -> list[Pairing]:
    return db.session.scalars(select(Pairing).where(
        Pairing.station_id == station.id, Pairing.active.is_(True))
        .order_by(Pairing.since, Pairing.id)).all()


def pair(branch: OrgUnit, station: OrgUnit, actor: User, today: date) -> Pairing:
    """Pair ``branch`` with ``station``; an earlier pairing of the branch ends."""
    if branch.kind != "branch" or station.kind != "station":
        raise NotAllowed("只能由党支部与驿站结对", "Only a party branch can pair with a station")
    if not may_manage(actor, branch):
        raise NotAllowed("只有本支部书记或上级工会管理员可以办理结对",
                         "Only the branch secretary or an administrator above can pair")
    current = branch_pairings(branch, lock=True)
    if any(p.station_id == station.id for p in current):
        raise Conflict("本支部已与该驿站结对", "The branch is already paired with this station",
                       code="already_paired")
    for earlier in current:
        earlier.active = False
    pairing = db.session.scalar(select(Pairing).where(
        Pairing.branch_id == branch.id, Pairing.station_id == station.id))
    if pairing is None:  # pairing again with a former station reuses its row
        pairing = Pairing(branch=branch, station=station, since=today)
        db.session.add(pairing)
    pairing.active, pairing.since = True, today
    db.session.flush()
    return pairing


def end(pairing: Pairing, actor: User) -> None:
    if not may_manage(actor, pairing.branch):
        raise NotAllowed("只有本支部书记或上级工会管理员可以解除结对",
                         "Only the branch secretary or an administrator above can end a pairing")
    if not pairing.active:
        raise Conflict("该结对已经解除", "This pairing has already ended", code="already_ended")
    pairing.active = False
    db.session.flush()
