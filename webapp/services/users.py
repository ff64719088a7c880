"""Creating people, giving them roles, and checking who they say they are."""
from __future__ import annotations

import re
from functools import cache

from sqlalchemy import func, select

from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.models import Membership, OrgUnit, User
from webapp.services import audit
from workflows.org import ROLE_KEYS

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
MIN_PASSWORD_LENGTH = 8


class UserError(ValueError):
    """A user that cannot be created or changed as asked."""


def find_user(username: str) -> User | None:
    name = (username or "").strip()
    if not name:
        return None
    return db.session.scalar(select(User).where(func.lower(User.username) == name.lower()))


def create_user(username: str, password: str, display_name: str, *, unit: OrgUnit | None = None,
                email: str | None = None, phone: str | None = None,
                locale: str = "zh_CN", actor: User | None = None) -> User:
    if not USERNAME_RE.match(username or ""):
        raise UserError("username must be 3–64 letters, digits, '.', '_' or '-'")
    if find_user(username) is not None:
        raise UserError(f"user {username!r} already exists")
    check_password_strength(password)
    user = User(username=username, display_name=display_name or username, unit=unit,
                email=email, phone=phone, locale=locale)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.create", user, {}, {
        "username": user.username, "display_name": user.display_name,
        "unit": unit.code if unit else None, "email": email, "phone": phone, "locale": locale})
    return user


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")


def grant_role(user: User, role: str, unit: OrgUnit, *, actor: User | None = None) -> Membership:
    """Give ``user`` ``role`` at ``unit``; granting one already held changes nothing."""
    if role not in ROLE_KEYS:
        raise UserError(f"unknown role {role!r}")
    for membership in user.memberships:
        if membership.role == role and membership.unit_id == unit.id:
            return membership
    membership = Membership(user=user, unit=unit, role=role)
    db.session.add(membership)
    db.session.flush()
    audit.record(actor, "membership.grant", membership, {},
                 {"user": user.username, "role": role, "unit": unit.code})
    return membership


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None — the same answer for every failure."""
    user = find_user(username)
    if user is None:
        # Spend the same time as a real check so timing does not tell who exists.
        check_password_hash(_dummy_hash(), password or "")
        return None
    if not user.check_password(password or "") or not user.active:
        return None
    return user


@cache
def _dummy_hash() -> str:
    return generate_password_hash("not-a-real-password")
