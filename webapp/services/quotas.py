"""Retreat (疗休养) quotas handed down the tree: city → district → unit.

A unit's places come out of what its parent holds; the places a unit keeps (its quota
less what it handed further down) are the capacity its nominations draw on, through the
engine's capacity resource ``retreat:<batch>:<unit>``.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update

from webapp.extensions import db
from webapp.models import CapacityResource, OrgUnit, RetreatBatch, RetreatQuota, User
from webapp.services import audit
from webapp.services.activities import _set_capacity, promote_waiting
from workflows.errors import Conflict

# Who hands places down or gives them back (supervisors look, never change).
QUOTA_ADMIN_ROLES = frozenset({"platform_admin", "city_admin", "district_admin", "unit_admin"})
# Units that nominate people: not party branches, not stations.
QUOTA_KINDS = ("city", "district", "street", "enterprise")


class QuotaError(Conflict):
    """More places than the level above holds, or fewer than are already in use."""

    code = "quota"


def resource_key(batch: RetreatBatch, unit: OrgUnit) -> str:
    return f"retreat:{batch.id}:{unit.id}"


def allocate_quota(batch: RetreatBatch, unit: OrgUnit, amount: int, *,
                   actor: User | None = None) -> RetreatQuota:
    """Give ``unit`` ``amount`` places of ``batch``, taken from what its parent holds.

    The city's own quota may not exceed the batch; every other unit's children together
    may not exceed the unit's own quota.  No quota drops below what is handed down from
    it or already used by its nominations.  The parent keeps (for its own nominations)
    what it has not handed down, so the places of a batch are never counted twice.
    """
    if amount < 0:
        raise QuotaError("名额不能为负数", "A quota cannot be negative")
    quota = db.session.scalar(select(RetreatQuota).where(
        RetreatQuota.batch_id == batch.id, RetreatQuota.unit_id == unit.id).with_for_update())
    parent = None
    if unit.id == batch.owner_unit_id:
        limit, siblings = batch.capacity, 0
    else:
        parent = db.session.scalar(select(RetreatQuota).where(
            RetreatQuota.batch_id == batch.id, RetreatQuota.unit_id == unit.parent_id)
            .with_for_update())
        if parent is None:
            raise QuotaError("上级单位还没有本批次的名额可以下拨",
                             "The level above holds no places of this batch to hand down")
        limit = parent.amount - _taken(batch, unit.parent_id)
        siblings = _handed_down(batch, unit.parent_id, except_unit=unit.id)
    if siblings + amount > limit:
        # ``amount`` is the unit's whole quota, not places added to it: say the most the
        # quota may be set to, beside what it is now.
        most, now = max(limit - siblings, 0), quota.amount if quota is not None else 0
        raise QuotaError(f"{unit.label('zh')}的名额最多可设为 {most} 个（现为 {now} 个）",
                         f"The quota of {unit.label('en')} can be at most {most} places "
                         f"(now {now})")
    below, taken = _handed_down(batch, unit.id), _taken(batch, unit.id)
    if amount < below + taken:
        raise QuotaError(f"已下拨 {below} 个、已使用 {taken} 个名额，不能少于 {below + taken}",
                         f"{below} places are handed down and {taken} used here: "
                         f"at least {below + taken}")
    previous = quota.amount if quota is not None else None
    if quota is None:
        quota = RetreatQuota(batch=batch, unit=unit, amount=amount)
        db.session.add(quota)
    else:
        quota.amount = amount
    promoted = _set_capacity(resource_key(batch, unit), amount - below)
    if parent is not None:
        promoted += _set_capacity(resource_key(batch, parent.unit),
                                  parent.amount - siblings - amount)
    db.session.flush()
    audit.record(actor, "quota.allocate", quota, {"amount": previous}, {"amount": amount})
    promote_waiting(promoted)  # a definition's own waiting list on a quota, if it keeps one
    return quota


def _handed_down(batch: RetreatBatch, parent_id: int, except_unit: int | None = None) -> int:
    stmt = select(func.coalesce(func.sum(RetreatQuota.amount), 0)).join(
        OrgUnit, OrgUnit.id == RetreatQuota.unit_id).where(
        RetreatQuota.batch_id == batch.id, OrgUnit.parent_id == parent_id)
    if except_unit is not None:
        stmt = stmt.where(OrgUnit.id != except_unit)
    return db.session.scalar(stmt) or 0


def _taken(batch: RetreatBatch, unit_id: int) -> int:
    return db.session.scalar(select(CapacityResource.granted).where(
        CapacityResource.key == f"retreat:{batch.id}:{unit_id}")) or 0


def return_unused_quota(batch: RetreatBatch, unit: OrgUnit, *, actor: User | None = None) -> int:
    """Give back the places a unit neither used nor handed down; returns how many.

    They go back to the level above, which may nominate with them or hand them on.
    """
    quota = db.session.scalar(select(RetreatQuota).where(
        RetreatQuota.batch_id == batch.id, RetreatQuota.unit_id == unit.id).with_for_update())
    resource = db.session.get(CapacityResource, resource_key(batch, unit), with_for_update=True)
    if quota is None or resource is None:
        return 0
    unused = (resource.capacity or 0) - resource.granted
    if unused <= 0:
        return 0
    audit.record(actor, "quota.return", quota, {"amount": quota.amount},
                 {"amount": quota.amount - unused})
    quota.amount -= unused
    resource.capacity -= unused
    if unit.id != batch.owner_unit_id and unit.parent_id is not None:
        db.session.execute(update(CapacityResource).where(
            CapacityResource.key == f"retreat:{batch.id}:{unit.parent_id}")
            .values(capacity=CapacityResource.capacity + unused))
    db.session.flush()
    return unused


# ------------------------------------------------------------------ who sees and changes what

@dataclass
class QuotaRow:
    unit: OrgUnit
    amount: int | None  # None: no quota yet (a unit places could be handed to)
    handed_down: int
    used: int
    waiting: int
    may_allocate: bool
    may_return: bool

    @property
    def kept(self) -> int:
        return (self.amount or 0) - self.handed_down

    @property
    def left(self) -> int:
        return max(self.kept - self.used, 0)


def _admin_paths(viewer: User) -> list[str]:
    return [m.unit.path for m in viewer.memberships if m.role in QUOTA_ADMIN_ROLES]


def _view_paths(viewer: User) -> list[str]:
    from webapp.services.access import OVERSIGHT_ROLES

    return [m.unit.path for m in viewer.memberships if m.role in OVERSIGHT_ROLES]


def _under(path: str, roots: list[str]) -> bool:
    return any(path.startswith(root) for root in roots)


def may_view(viewer: User) -> bool:
    return bool(_view_paths(viewer))


def may_allocate(viewer: User, batch: RetreatBatch, unit: OrgUnit) -> bool:
    """Admins at the unit's parent or above hand places to it (the city's own quota:
    admins at the city or above)."""
    target = unit if unit.id == batch.owner_unit_id else unit.parent
    if target is None or unit.kind not in QUOTA_KINDS:
        return False
    return _under(target.path, _admin_paths(viewer)) and _under(unit.path, [
        batch.owner_unit.path])


def may_return(viewer: User, batch: RetreatBatch, unit: OrgUnit) -> bool:
    """Admins at the unit or above give its unused places back to the level above (the
    city's own places have no level above to go to)."""
    return unit.id != batch.owner_unit_id and _under(unit.path, _admin_paths(viewer))


def quota_rows(batch: RetreatBatch, viewer: User) -> list[QuotaRow]:
    """The units of the batch within the viewer's sight, in tree order: those holding a
    quota, and the units right below them places could go to next."""
    roots = _view_paths(viewer)
    if not roots:
        return []
    quotas = {q.unit_id: q for q in db.session.scalars(select(RetreatQuota).where(
        RetreatQuota.batch_id == batch.id))}
    resources = {key: (cap, granted) for key, cap, granted in db.session.execute(
        select(CapacityResource.key, CapacityResource.capacity, CapacityResource.granted)
        .where(CapacityResource.key.startswith(f"retreat:{batch.id}:")))}
    holders = [q.unit for q in quotas.values()]
    candidates = {u.id: u for u in holders}
    if holders:
        for child in db.session.scalars(select(OrgUnit).where(
                OrgUnit.parent_id.in_([u.id for u in holders]), OrgUnit.active.is_(True),
                OrgUnit.kind.in_(QUOTA_KINDS))):
            candidates.setdefault(child.id, child)
    else:
        candidates[batch.owner_unit_id] = batch.owner_unit
    waiting = _waiting(batch)
    handed_down: dict[int, int] = {}
    for quota in quotas.values():
        parent_id = quota.unit.parent_id
        handed_down[parent_id] = handed_down.get(parent_id, 0) + quota.amount
    rows = []
    for unit in sorted(candidates.values(), key=lambda u: u.path):
        if not _under(unit.path, roots):
            continue
        quota = quotas.get(unit.id)
        _cap, granted = resources.get(f"retreat:{batch.id}:{unit.id}", (0, 0))
        rows.append(QuotaRow(unit=unit, amount=quota.amount if quota else None,
                             handed_down=handed_down.get(unit.id, 0), used=granted or 0,
                             waiting=waiting.get(unit.id, 0),
                             may_allocate=may_allocate(viewer, batch, unit),
                             may_return=quota is not None and may_return(viewer, batch, unit)))
    return rows


def _waiting(batch: RetreatBatch) -> dict[int, int]:
    from webapp.models import Reservation

    rows = db.session.execute(select(Reservation.resource_key, func.count()).where(
        Reservation.resource_key.startswith(f"retreat:{batch.id}:"),
        Reservation.status == "waitlisted").group_by(Reservation.resource_key))
    return {int(key.rsplit(":", 1)[1]): n for key, n in rows}
