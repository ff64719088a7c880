"""人员与角色: the list of people as administrators search it, and the units they pick.

The list is the list of role holders in the viewer's part of the tree.  Its filters — a
unit (that unit and everything below it), a role, active or deactivated — apply to the
same statement the page pages through and the download writes out.  A filter that
cannot be used (a unit code nobody has or outside the viewer's part, a role or status
that does not exist) gets a message beside it and the list finds nothing, rather than a
guess — as the other administration searches do (``instance_search``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, false, or_, select, true

from webapp.extensions import db
from webapp.models import Membership, OrgUnit, User
from webapp.services.access import OVERSIGHT_ROLES
from webapp.services.org import in_scope_clause
from workflows.org import ROLE_KEYS

VIEW_ROLES = OVERSIGHT_ROLES  # who reads the list: administrators and supervisors
STATUSES = ("active", "inactive")
UNIT_OPTIONS = 20  # units a picker offers for what was typed


@dataclass
class PeopleSearch:
    q: str = ""
    unit: OrgUnit | None = None
    role: str | None = None
    status: str | None = None
    raw: dict[str, str] = field(default_factory=dict)
    errors: dict[str, object] = field(default_factory=dict)

    @property
    def filtered(self) -> bool:
        return any(self.raw.values())

    def args(self) -> dict[str, str]:
        """The query arguments that reproduce this search (for the pager)."""
        return {k: v for k, v in self.raw.items() if v}


def parse(args: Mapping[str, str], viewer: User) -> PeopleSearch:
    """What was asked for, with a message for each filter that cannot be used."""
    raw = {"q": (args.get("q") or "").strip()[:100],
           "unit": (args.get("unit") or "").strip()[:64],
           "role": (args.get("role") or "").strip()[:32],
           "status": (args.get("status") or "").strip()[:16]}
    search = PeopleSearch(q=raw["q"], raw=raw)
    if raw["unit"]:
        search.unit = unit_in_view(viewer, raw["unit"])
        if search.unit is None:
            search.errors["unit"] = _l("没有这个单位编码，或该单位不在您的管理范围内")
    if raw["role"]:
        if raw["role"] in ROLE_KEYS:
            search.role = raw["role"]
        else:
            search.errors["role"] = _l("没有这个角色，请从列表中选择")
    if raw["status"]:
        if raw["status"] in STATUSES:
            search.status = raw["status"]
        else:
            search.errors["status"] = _l("没有这个账号状态，请从列表中选择")
    return search


def statement(search: PeopleSearch, viewer: User):
    """SELECT of the people found, by username.  A role and a unit filter meet in one
    role: "站长 at a unit below 解放碑街道" means one person holding that role there."""
    scope = _scope(viewer, VIEW_ROLES)
    stmt = (select(User).join(Membership, Membership.user_id == User.id)
            .join(OrgUnit, OrgUnit.id == Membership.unit_id)
            .where(scope if scope is not None else false()).distinct())
    if search.errors:
        return stmt.where(false()).order_by(User.username)
    if search.q:
        stmt = stmt.where(or_(User.username.contains(search.q, autoescape=True),
                              User.display_name.contains(search.q, autoescape=True)))
    if search.unit is not None:
        stmt = stmt.where(search.unit.subtree_clause(OrgUnit.path))
    if search.role:
        stmt = stmt.where(Membership.role == search.role)
    if search.status:
        stmt = stmt.where(User.active.is_(search.status == "active"))
    return stmt.order_by(User.username)


def _scope(viewer: User, roles):
    """WHERE clause on ``OrgUnit.path``: the viewer's part of the tree (None: nothing).
    A platform administrator's is everything, as ``people.unit_in_scope`` has it."""
    if "platform_admin" in roles and viewer.has_role("platform_admin"):
        return true()
    return in_scope_clause(viewer, roles)


# ------------------------------------------------------------------------------ units

def unit_in_view(viewer: User, code: str, roles=VIEW_ROLES) -> OrgUnit | None:
    """The unit with this code if it lies in the part of the tree ``viewer`` covers
    through ``roles``; else None (whether it exists elsewhere is not told)."""
    scope = _scope(viewer, roles)
    if not code or scope is None:
        return None
    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code, scope))


def unit_options(viewer: User, text: str, roles=VIEW_ROLES, *, active_only: bool = False,
                 limit: int = UNIT_OPTIONS) -> list[OrgUnit]:
    """Up to ``limit`` units in ``viewer``'s part of the tree whose name (Chinese or
    English) or code contains ``text``: the code typed in full first, then names and
    codes that start with it, higher units before lower ones."""
    text = (text or "").strip()[:64]
    scope = _scope(viewer, roles)
    if not text or scope is None:
        return []
    stmt = select(OrgUnit).where(scope, or_(
        OrgUnit.code.contains(text, autoescape=True),
        OrgUnit.name.contains(text, autoescape=True),
        OrgUnit.name_en.contains(text, autoescape=True)))
    if active_only:
        stmt = stmt.where(OrgUnit.active.is_(True))
    rank = case((OrgUnit.code == text, 0),
                (or_(OrgUnit.code.startswith(text, autoescape=True),
                     OrgUnit.name.startswith(text, autoescape=True)), 1), else_=2)
    return list(db.session.scalars(stmt.order_by(rank, OrgUnit.depth, OrgUnit.path)
                                   .limit(limit)))
