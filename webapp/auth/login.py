"""Flask-Login wiring and the role checks views use."""
from __future__ import annotations

import time
from functools import wraps

from flask import Flask, abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_login.utils import decode_cookie
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from webapp.extensions import db, login_manager
from webapp.models import User
from webapp.services import org_cache


# Built once (every signed-in page runs it); the token comes as a parameter.
# The person's roles come joined in (a row each): the page's checks and menu ask for them.
_BY_SESSION_TOKEN = select(User, org_cache.generation_column()).where(
    User.session_token == bindparam("token"), User.active.is_(True)).options(
    joinedload(User.memberships))


@login_manager.user_loader
def load_user(session_token: str) -> User | None:
    # The cookie carries the user's current session token, not the id: after sign-out the
    # token is replaced and an old cookie finds nobody.
    if not session_token:
        return None
    # With the organisation's generation: the page's checks and steps then use this
    # process's copy of the organisation without asking for it (``org_cache``).
    rows = db.session.execute(_BY_SESSION_TOKEN, {"token": session_token}).unique().all()
    found = rows[0] if rows else None
    if found is None:
        return None
    org_cache.note_generation(found[1])
    return found[0]


def roles_required(*roles: str):
    """The view is for people holding one of ``roles`` somewhere; others get 403."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not permits(wrapped, current_user):
                abort(403)
            return view(*args, **kwargs)
        # Who this page is for: read by ``permits`` (the guard above, the menu) and by
        # the authorisation-matrix tests.
        wrapped.required_roles = frozenset(roles)
        return wrapped
    return decorator


def permits(view, user) -> bool:
    """Whether ``user`` gets past ``view``'s role check (views without one: yes)."""
    roles = getattr(view, "required_roles", None)
    return roles is None or user.has_role(*roles)


def may_open(endpoint: str, user=None) -> bool:
    """Whether a link to ``endpoint`` would open for ``user`` (default: who is signed
    in) rather than end in 403 — the same check as the view's guard, so the menu and
    the page cannot disagree.  An endpoint this installation lacks: no."""
    view = current_app.view_functions.get(endpoint)
    user = current_user if user is None else user
    return view is not None and user.is_authenticated and permits(view, user)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("请先登录。")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    app.before_request(end_idle_session)
    app.before_request(require_own_password)
    app.jinja_env.globals["may_open"] = may_open


_SEEN = "seen"  # session: when this browser last asked for a page (seconds, rounded)
_SEEN_STEP = 60  # the cookie is rewritten at most once a minute for it


def _now() -> int:
    return int(time.time())


def _remembered() -> bool:
    """Whether this browser carries a remember-me cookie for the person signed in (a
    stale one, of someone else or from before a sign-out, does not count)."""
    cookie = request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME",
                                                        "remember_token"))
    return bool(cookie) and decode_cookie(cookie) == session.get("_user_id")


def end_idle_session():
    """Sign out a browser session left idle longer than ``SESSION_IDLE_MINUTES``: the next
    person at a shared tablet must not find the last one still signed in.  Not for the
    API (bearer tokens have their own lifetime) nor for "remember me", which a person
    asks for on their own phone."""
    idle = int(current_app.config.get("SESSION_IDLE_MINUTES") or 0)
    if not idle or request.blueprint == "api" or request.endpoint == "static":
        return
    if "_user_id" not in session:
        return
    now = _now()
    seen = session.get(_SEEN)
    if isinstance(seen, int) and now - seen > idle * 60 and not _remembered():
        locale = session.get("locale")
        session.clear()
        if locale:
            session["locale"] = locale  # the sign-in page in the language they chose
        if request.endpoint == "auth.login":
            return None  # already where it would be sent (or signing in again)
        flash(_("您已超过 %(minutes)s 分钟未操作，为保护个人信息已自动退出，请重新登录。",
                minutes=idle), "info")
        # Back to this page once signed in again (a form sent now is not kept).
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("auth.login", next=target))
    if not isinstance(seen, int) or now - seen >= _SEEN_STEP:
        session[_SEEN] = now
    return None


# What someone whose password an administrator set may still open: the password change,
# sign-out, the language switch, and what those pages need.
_OPEN_BEFORE_OWN_PASSWORD = frozenset({"main.change_password", "auth.logout", "auth.set_locale",
                                       "static", "bootstrap.static", "main.healthz"})


def require_own_password():
    """Send someone still holding the password an administrator gave them (a new
    account, a reset) to the password change, whatever page they ask for.  Not for the
    API: it issues such a person no token (``api.auth.issue_token``)."""
    if request.blueprint == "api" or request.endpoint in _OPEN_BEFORE_OWN_PASSWORD \
            or "_user_id" not in session:
        return None  # nobody signed in: no need to load anyone
    if current_user.is_authenticated and current_user.must_change_password:
        return redirect(url_for("main.change_password"))
    return None
