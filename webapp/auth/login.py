"""Flask-Login wiring and the role checks views use."""
from __future__ import annotations

from functools import wraps

from flask import Flask, abort
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
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
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)
        # Read by the authorisation-matrix tests: who this page is for.
        wrapped.required_roles = frozenset(roles)
        return wrapped
    return decorator


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("请先登录。")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
