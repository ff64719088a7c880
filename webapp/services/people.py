"""People and units as administrators manage them: scope, role ranks, and audited changes.

An administrator (unit, district, city) manages the users and units in the part of the
tree below the units where they hold an administrator role; a platform administrator
manages everything.  A user is manageable only when *all* of them lies in that part —
their home unit and every unit where they hold a role — so nobody reaches, through a
shared unit, an account that also holds power elsewhere.  Nobody grants a role ranked
above the one they hold over that unit.

Every change records an audit entry with its actor, before and after; passwords never
reach the log.  Functions change the caller's transaction; the caller commits.
"""
from __future__ import annotations

import secrets
from datetime import date, datetime

from webapp.extensions import db
from webapp.models import Membership, OrgUnit, User
from webapp.services import audit, tokens
from webapp.services.users import (USERNAME_RE, UserError, check_password_strength, create_user,
                                   find_user, grant_role)
from workflows.org import (ROLE_KEYS, ROLE_UNIT_KINDS, ROLES, UNIT_CHILDREN, UNIT_KINDS,
                           UNIT_KIND_KEYS, term)

MANAGER_ROLES = frozenset({"unit_admin", "district_admin", "city_admin", "platform_admin"})
# Who may grant what: a role may be granted by someone holding a role of at least its rank
# over the unit.  The supervisor reads what a district administrator reads.
ROLE_RANK = {"worker": 0, "volunteer": 0, "branch_secretary": 1, "station_head": 1,
             "unit_admin": 2, "district_admin": 3, "supervisor": 3, "city_admin": 4,
             "platform_admin": 5}
# Separation of duties: the supervisor reads every decision and audits administrators,
# so one person holding both would audit their own work.  Not forbidden (a small union
# may have nobody else), but granted only once the administrator has confirmed it.
SUPERVISOR_ROLE = "supervisor"
LOCALES = ("zh_CN", "en")
# No 0/O, 1/l/I: a generated password is read off a screen and typed on a phone.
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class PeopleError(ValueError):
    """A change refused, with the reason in Chinese and English."""

    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh, self.en = zh, en

    def message(self, locale: str) -> str:
        return self.en if locale.startswith("en") else self.zh


class WrongPassword(PeopleError):
    """The password given as proof is not the person's."""


# ------------------------------------------------------------------------------ scope

def _is_platform(actor: User | None) -> bool:
    return actor is None or actor.has_role("platform_admin")


def manager_units(actor: User) -> list[OrgUnit]:
    return [m.unit for m in actor.memberships if m.role in MANAGER_ROLES]


def unit_in_scope(actor: User | None, unit: OrgUnit | None) -> bool:
    """``unit`` lies in the part of the tree ``actor`` manages (None: the system)."""
    if unit is None:
        return False
    if _is_platform(actor):
        return True
    return any(unit.path.startswith(top.path) for top in manager_units(actor))


def rank_at(actor: User | None, unit: OrgUnit) -> int:
    """The highest rank ``actor`` holds over ``unit`` through an administrator role."""
    if _is_platform(actor):
        return ROLE_RANK["platform_admin"]
    ranks = [ROLE_RANK[m.role] for m in actor.memberships
             if m.role in MANAGER_ROLES and unit.path.startswith(m.unit.path)]
    return max(ranks, default=-1)


def may_manage_user(actor: User | None, user: User) -> bool:
    if _is_platform(actor):
        return True
    units = ([user.unit] if user.unit is not None else []) + [m.unit for m in user.memberships]
    if not units:
        return False
    return all(unit_in_scope(actor, u) for u in units) and all(
        ROLE_RANK[m.role] <= rank_at(actor, m.unit) for m in user.memberships)


def grantable_roles(actor: User | None, unit: OrgUnit) -> list[str]:
    """The roles ``actor`` may grant at ``unit``, in the vocabulary's order."""
    if not unit_in_scope(actor, unit) or not unit.active:
        return []
    rank = rank_at(actor, unit)
    return [t.key for t in ROLES if ROLE_RANK[t.key] <= rank
            and unit.kind in ROLE_UNIT_KINDS[t.key]]


def role_problem(actor, role: str, unit: OrgUnit) -> PeopleError | None:
    if role not in ROLE_KEYS:
        return PeopleError(f"没有“{role[:30]}”这种角色", f"there is no role '{role[:30]}'")
    if not unit_in_scope(actor, unit):
        return PeopleError("该单位不在您的管理范围内", "that unit is outside your part of the tree")
    if not unit.active:
        return PeopleError("该单位已停用", "that unit is deactivated")
    if ROLE_RANK[role] > rank_at(actor, unit):
        return PeopleError(f"您不能授予高于自己的角色（{term(ROLES, role)}）",
                           f"you cannot grant a role above your own ({term(ROLES, role, 'en')})")
    if unit.kind not in ROLE_UNIT_KINDS[role]:
        return PeopleError(
            f"{term(ROLES, role)}不能设在{term(UNIT_KINDS, unit.kind)}",
            f"a {term(ROLES, role, 'en')} cannot be held at a {term(UNIT_KINDS, unit.kind, 'en')}")
    return None


# ------------------------------------------------------------------------------ users

def generate_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


def _snapshot(user: User) -> dict:
    return {"display_name": user.display_name, "unit": user.unit.code if user.unit else None,
            "phone": user.phone, "email": user.email, "locale": user.locale}


def _checked_password(password: str | None) -> str:
    password = password or generate_password()
    _require_strong(password)
    return password


def _require_strong(password: str) -> None:
    try:
        check_password_strength(password)
    except UserError:
        raise PeopleError("密码至少 8 个字符", "the password needs at least 8 characters") from None


def add_user(actor: User | None, *, username: str, display_name: str, unit: OrgUnit,
             role: str | None, phone: str | None = None, email: str | None = None,
             locale: str = "zh_CN", password: str | None = None) -> tuple[User, str]:
    """A new user at ``unit`` (holding ``role`` there) and the password to hand over."""
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise PeopleError("用户名为 3–64 个字母、数字或 . _ -",
                          "the username must be 3–64 letters, digits, '.', '_' or '-'")
    if find_user(username) is not None:
        raise PeopleError(f"用户名“{username}”已存在", f"the username '{username}' exists already")
    if not unit_in_scope(actor, unit):
        raise PeopleError("该单位不在您的管理范围内", "that unit is outside your part of the tree")
    if role:
        problem = role_problem(actor, role, unit)
        if problem:
            raise problem
    if locale not in LOCALES:
        locale = "zh_CN"
    password = _checked_password(password)
    user = create_user(username, password, (display_name or "").strip() or username, unit=unit,
                       phone=phone or None, email=email or None, locale=locale, actor=actor)
    # The administrator has seen it: its holder sets one of their own at first sign-in.
    user.must_change_password = True
    if role:
        grant_role(user, role, unit, actor=actor)
    return user, password


def update_user(actor: User | None, user: User, *, display_name: str, unit: OrgUnit,
                phone: str | None, email: str | None, locale: str) -> bool:
    """Change a user's profile; True when something changed."""
    if unit is not user.unit and not unit_in_scope(actor, unit):
        raise PeopleError("该单位不在您的管理范围内", "that unit is outside your part of the tree")
    before = _snapshot(user)
    user.display_name = (display_name or "").strip() or user.display_name
    user.unit = unit
    user.phone, user.email = phone or None, email or None
    user.locale = locale if locale in LOCALES else user.locale
    after = _snapshot(user)
    if before == after:
        return False
    audit.record(actor, "user.update", user, before, after)
    return True


def set_active(actor: User | None, user: User, active: bool) -> bool:
    """Deactivate (sessions end, API tokens revoked) or reactivate an account."""
    if not active and actor is not None and user.id == actor.id:
        raise PeopleError("不能停用自己的账号", "you cannot deactivate your own account")
    if user.active == active:
        return False
    user.active = active
    if not active:
        user.rotate_session_token()  # every open session and remember-me cookie ends
        tokens.revoke_all(user, actor=actor)
    audit.record(actor, "user.reactivate" if active else "user.deactivate", user,
                 {"active": not active}, {"active": active})
    return True


def reset_password(actor: User | None, user: User, password: str | None = None) -> str:
    """A new password for ``user`` (generated unless given): sessions and tokens end,
    and its holder must set one of their own at the next sign-in (an administrator
    has seen this one)."""
    password = _checked_password(password)
    user.set_password(password)
    user.must_change_password = actor is None or actor.id != user.id
    user.rotate_session_token()
    revoked = tokens.revoke_all(user, actor=actor)
    # The password itself never goes to the log: only that it was reset, and by whom.
    audit.record(actor, "user.password_reset", user, {}, {"by": actor.username if actor else None,
                                                          "tokens_revoked": revoked})
    return password


def change_own_password(user: User, current: str, new: str) -> int:
    """``user`` sets a password of their own, proving the one they have: every other
    session and every API token of theirs ends (a lost phone, a password someone saw).
    Returns how many tokens were revoked.  The caller signs this session in again."""
    if not user.check_password(current or ""):
        raise WrongPassword("当前密码不正确。", "The current password is not right.")
    if new == current:
        raise PeopleError("新密码不能与当前密码相同。",
                          "The new password must differ from the current one.")
    _require_strong(new)
    user.set_password(new)
    user.must_change_password = False
    user.rotate_session_token()
    revoked = tokens.revoke_all(user, actor=user)
    audit.record(user, "user.password_change", user, {}, {"tokens_revoked": revoked})
    return revoked


class DutiesConflict(PeopleError):
    """The grant would make one person both supervisor and administrator: it needs the
    granting administrator's confirmation."""


def holds_conflicting_duties(roles) -> bool:
    """Whether ``roles`` hold the supervisor and an administrator role at once."""
    roles = set(roles)
    return SUPERVISOR_ROLE in roles and bool(roles & MANAGER_ROLES)


def grant_would_combine_duties(user: User, role: str, unit: OrgUnit) -> bool:
    """Whether granting ``role`` at ``unit`` makes ``user`` hold the supervisor and an
    administrator role at once (a role they hold there already changes nothing)."""
    if role != SUPERVISOR_ROLE and role not in MANAGER_ROLES:
        return False
    if any(m.role == role and m.unit_id == unit.id for m in user.memberships):
        return False
    return holds_conflicting_duties(user.roles | {role})


def grant(actor: User | None, user: User, role: str, unit: OrgUnit, *,
          duties_confirmed: bool = False) -> Membership:
    """Give ``user`` ``role`` at ``unit``.  One that would make them supervisor and
    administrator at once raises ``DutiesConflict`` unless ``duties_confirmed``."""
    problem = role_problem(actor, role, unit)
    if problem:
        raise problem
    if not duties_confirmed and grant_would_combine_duties(user, role, unit):
        raise DutiesConflict(
            "授予后此人将同时担任监督和管理员角色，需要确认",
            "after this grant the person would be supervisor and administrator at once; "
            "it needs confirmation")
    return grant_role(user, role, unit, actor=actor)


def revoke(actor: User | None, membership: Membership) -> None:
    if not unit_in_scope(actor, membership.unit) or \
            ROLE_RANK[membership.role] > rank_at(actor, membership.unit):
        raise PeopleError("该角色不在您的管理范围内", "that role is outside your part of the tree")
    user = membership.user
    if actor is not None and user.id == actor.id and membership.role in MANAGER_ROLES and \
            not any(m.role in MANAGER_ROLES for m in user.memberships if m is not membership):
        raise PeopleError("不能取消自己最后一个管理员角色",
                          "you cannot take away your own last administrator role")
    audit.record(actor, "membership.revoke", membership,
                 {"user": user.username, "role": membership.role, "unit": membership.unit.code},
                 {})
    user.memberships.remove(membership)
    db.session.flush()


# ------------------------------------------------------------------------------ units

CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")


def check_code(code: str) -> PeopleError | None:
    if not code or len(code) > 64 or not set(code) <= CODE_CHARS or not code[0].isalnum():
        return PeopleError("编码为 1–64 个字母、数字或 _ . : -，以字母或数字开头",
                           "the code must be 1–64 letters, digits or _ . : -, starting with a "
                           "letter or digit")
    return None


def child_kinds(parent: OrgUnit) -> list[str]:
    return [t.key for t in UNIT_KINDS if t.key in UNIT_CHILDREN[parent.kind]]


def add_unit(actor: User | None, *, parent: OrgUnit | None, code: str, name: str, kind: str,
             name_en: str | None = None) -> OrgUnit:
    from webapp.services.org import create_unit, unit_by_code

    code, name = (code or "").strip(), (name or "").strip()
    problem = check_code(code)
    if problem:
        raise problem
    if not name or len(name) > 200:
        raise PeopleError("名称为 1–200 个字", "the name must be 1–200 characters")
    if parent is None and actor is not None and not _is_platform(actor):
        raise PeopleError("请选择上级单位", "choose the parent unit")
    if parent is not None and not unit_in_scope(actor, parent):
        raise PeopleError("上级单位不在您的管理范围内", "the parent unit is outside your part of the tree")
    if parent is not None and not parent.active:
        raise PeopleError("上级单位已停用", "the parent unit is deactivated")
    if kind not in UNIT_KIND_KEYS:
        raise PeopleError(f"没有“{kind[:30]}”这种单位类型", f"there is no unit kind '{kind[:30]}'")
    if kind not in UNIT_CHILDREN[parent.kind if parent else None]:
        under = term(UNIT_KINDS, parent.kind) if parent else "顶层"
        under_en = term(UNIT_KINDS, parent.kind, "en") if parent else "the top"
        raise PeopleError(f"{term(UNIT_KINDS, kind)}不能设在{under}之下",
                          f"a {term(UNIT_KINDS, kind, 'en')} cannot be placed under {under_en}")
    if unit_by_code(code) is not None:
        raise PeopleError(f"编码“{code}”已被使用", f"the code '{code}' is taken")
    unit = create_unit(code, name, kind, parent, name_en=(name_en or "").strip() or None)
    audit.record(actor, "unit.create", unit, {}, {"code": code, "name": name, "kind": kind,
                                                  "parent": parent.code if parent else None})
    return unit


def update_unit(actor: User | None, unit: OrgUnit, *, name: str, name_en: str | None) -> bool:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise PeopleError("名称为 1–200 个字", "the name must be 1–200 characters")
    before = {"name": unit.name, "name_en": unit.name_en}
    unit.name, unit.name_en = name, (name_en or "").strip() or None
    after = {"name": unit.name, "name_en": unit.name_en}
    if before == after:
        return False
    audit.record(actor, "unit.update", unit, before, after)
    return True


def set_unit_active(actor: User | None, unit: OrgUnit, active: bool,
                    today: date | None = None) -> bool:
    """Deactivate a unit (nothing active may remain below it) or reactivate it.

    A branch or a station deactivated ends its current pairings (结对) on ``today``
    (China's date unless given); reactivating it pairs nothing again."""
    from sqlalchemy import func, select

    from webapp.models.org import subtree_range

    if not _is_platform(actor) and any(unit.id == top.id for top in manager_units(actor)):
        raise PeopleError("不能停用或恢复您自己负责的最上级单位",
                          "you cannot deactivate or reactivate the unit you administer itself")
    if unit.active == active:
        return False
    if not active:
        below = db.session.scalar(select(func.count()).select_from(OrgUnit).where(
            subtree_range(OrgUnit.path, unit.path), OrgUnit.id != unit.id,
            OrgUnit.active.is_(True)))
        if below:
            raise PeopleError(f"下级还有 {below} 个单位在用，请先停用它们",
                              f"{below} active units lie below it; deactivate them first")
    elif unit.parent is not None and not unit.parent.active:
        raise PeopleError("上级单位已停用，请先恢复上级单位", "its parent is deactivated; reactivate it first")
    unit.active = active
    audit.record(actor, "unit.reactivate" if active else "unit.deactivate", unit,
                 {"active": not active}, {"active": active})
    if not active:
        from webapp.services import pairings
        from webapp.services.activities import CHINA

        # Written first: a pairing of this unit under way (its row locked) is waited
        # for, and then found and ended here.
        db.session.flush()
        pairings.end_for_deactivated(unit, actor, today or datetime.now(CHINA).date())
    return True
