"""The organisation tree: creating units and asking what lies below or above one."""
from __future__ import annotations

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Membership, OrgUnit, User
from webapp.models.org import subtree_range
from workflows.org import UNIT_CHILDREN, UNIT_KIND_KEYS

class OrgError(ValueError):
    """A unit that cannot be created where it was asked for."""


def create_unit(code: str, name: str, kind: str, parent: OrgUnit | None = None,
                name_en: str | None = None) -> OrgUnit:
    if kind not in UNIT_KIND_KEYS:
        raise OrgError(f"unknown unit kind {kind!r}")
    parent_kind = parent.kind if parent is not None else None
    if kind not in UNIT_CHILDREN[parent_kind]:
        raise OrgError(f"a {kind} cannot be placed under {parent_kind or 'the root'}")
    unit = OrgUnit(code=code, name=name, name_en=name_en, kind=kind, parent=parent,
                   path="", depth=0 if parent is None else parent.depth + 1)
    db.session.add(unit)
    db.session.flush()  # the id is part of the path
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    return unit


def unit_by_code(code: str) -> OrgUnit | None:
    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def descendants_query(unit: OrgUnit, *, include_self: bool = True, kind: str | None = None):
    """SELECT of the units in ``unit``'s subtree: a range scan on the path index."""
    stmt = select(OrgUnit).where(subtree_range(OrgUnit.path, unit.path))
    if not include_self:
        stmt = stmt.where(OrgUnit.id != unit.id)
    if kind is not None:
        stmt = stmt.where(OrgUnit.kind == kind)
    return stmt.order_by(OrgUnit.path)


def ancestors(unit: OrgUnit, *, include_self: bool = True) -> list[OrgUnit]:
    """The units above ``unit``, root first, in one query by primary key."""
    ids = unit.ancestor_ids if include_self else unit.ancestor_ids[:-1]
    by_id = {u.id: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id]


def ancestor_of_kind(unit: OrgUnit, kind: str) -> OrgUnit | None:
    return next((u for u in reversed(ancestors(unit)) if u.kind == kind), None)


def users_with_role(role: str, unit: OrgUnit, *, inherit: bool = True) -> list[User]:
    """Who holds ``role`` at ``unit`` — or, with ``inherit``, at any unit above it."""
    unit_ids = unit.ancestor_ids if inherit else [unit.id]
    stmt = (select(User).join(Membership).where(Membership.role == role,
                                                Membership.unit_id.in_(unit_ids),
                                                User.active.is_(True))
            .distinct().order_by(User.id))
    return list(db.session.scalars(stmt))


def scope_units(user: User, roles: set[str] | frozenset[str]) -> list[OrgUnit]:
    """The top units of the subtrees where ``user`` holds one of ``roles``."""
    return [m.unit for m in user.memberships if m.role in roles]


def in_scope_clause(user: User, roles, path_column=None):
    """WHERE clause: a unit path lies under one of the units where ``user`` has ``roles``.

    Returns None when the user holds none of the roles (the caller shows nothing).
    """
    from sqlalchemy import or_

    column = OrgUnit.path if path_column is None else path_column
    ranges = [subtree_range(column, u.path) for u in scope_units(user, roles)]
    if not ranges:
        return None
    return or_(*ranges)
