from __future__ import annotations

from flask import render_template, request
from flask_login import current_user
from sqlalchemy import func, or_, select

from webapp.admin import bp
from webapp.auth.login import roles_required
from webapp.extensions import db
from webapp.main.capabilities import ADMIN_ROLES
from webapp.models import Membership, OrgUnit, User
from webapp.services.org import in_scope_clause
from workflows.org import ROLES, UNIT_KINDS, term

PER_PAGE = 50


def _page() -> int:
    return max(1, request.args.get("page", 1, type=int) or 1)


@bp.route("/units")
@roles_required(*ADMIN_ROLES)
def units():
    scope = in_scope_clause(current_user, ADMIN_ROLES)
    kind = request.args.get("kind") or None
    q = (request.args.get("q") or "").strip()[:100]
    stmt = select(OrgUnit).where(scope)
    if kind:
        stmt = stmt.where(OrgUnit.kind == kind)
    if q:
        stmt = stmt.where(or_(OrgUnit.name.contains(q), OrgUnit.code.contains(q)))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    page = _page()
    rows = db.session.scalars(stmt.order_by(OrgUnit.path).limit(PER_PAGE)
                              .offset((page - 1) * PER_PAGE)).all()
    return render_template("admin/units.html", units=rows, total=total, page=page,
                           per_page=PER_PAGE, kind=kind, q=q, UNIT_KINDS=UNIT_KINDS, term=term)


@bp.route("/users")
@roles_required(*ADMIN_ROLES)
def users():
    scope = in_scope_clause(current_user, ADMIN_ROLES)
    q = (request.args.get("q") or "").strip()[:100]
    stmt = (select(User).join(Membership, Membership.user_id == User.id)
            .join(OrgUnit, OrgUnit.id == Membership.unit_id).where(scope).distinct())
    if q:
        stmt = stmt.where(or_(User.username.contains(q), User.display_name.contains(q)))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    page = _page()
    rows = db.session.scalars(stmt.order_by(User.username).limit(PER_PAGE)
                              .offset((page - 1) * PER_PAGE)).all()
    return render_template("admin/users.html", users=rows, total=total, page=page,
                           per_page=PER_PAGE, q=q, ROLES=ROLES, term=term)
