"""Bearer tokens: issue, revoke, and who the caller is on every API request.

Cookies never authenticate an API call, so the API needs no CSRF token: a page on
another site cannot make the browser send a bearer token.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from flask_babel import gettext as _
from flask_login import current_user
from limits import parse_many

from webapp.api import present
from webapp.api.http import body, fail, invalid, text_field, user
from webapp.api.registry import BY_ENDPOINT, bp, query_problems, route
from webapp.extensions import db
from webapp.security import login_throttle, rate_limits, retry_after
from webapp.services import tokens
from webapp.services.users import authenticate


@bp.before_request
def authenticate_bearer():
    # Whatever session cookie came along, the API caller is who the token says.
    g._login_user = current_app.login_manager.anonymous_user()
    g.api_token = None
    scheme, _sep, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and raw.strip():
        row = tokens.resolve(raw.strip())
        if row is not None:
            g._login_user, g.api_token = row.user, row
    doc = BY_ENDPOINT.get(request.endpoint or "")
    if doc is None:
        return None
    if doc.auth and not current_user.is_authenticated:
        if raw.strip():
            fail(401, _("登录令牌无效、已过期或已注销，请重新登录。"), code="invalid_token")
        fail(401, _("请先登录：请求头需带 Authorization: Bearer <令牌>。"))
    problems = query_problems(doc, request.args)
    if problems:
        invalid({name: [QUERY_MESSAGES[kind]()] for name, kind in problems.items()})
    return None


QUERY_MESSAGES = {
    "integer": lambda: _("应为整数。"),
    "range": lambda: _("超出允许的范围。"),
    "enum": lambda: _("不是允许的取值之一。"),
    "length": lambda: _("太长了。"),
    "unknown": lambda: _("没有这个查询参数。"),
}


@route("/tokens", "POST", summary="Sign in: exchange username and password for a token",
       tag="auth", auth=False, body="TokenRequest", responses={201: "Token"},
       errors=(401, 403, 429))
def issue_token():
    payload, _files = body()
    errors: dict = {}
    username = text_field(payload, "username", required=True, max_length=64, errors=errors)
    password = payload.get("password")
    if not isinstance(password, str) or not password:
        errors["password"] = [_("此项必填。")]
    if errors:
        invalid(errors)
    if login_throttle.blocked(username):
        fail(429, _("登录失败次数过多，请稍后再试。"),
             headers=login_throttle.retry_after(username))
    person = authenticate(username, password)
    if person is None:
        login_throttle.failed(username)
        fail(401, _("用户名或密码不正确。"), code="bad_credentials")
    if not _may_issue(person.id):
        fail(429, _("申请令牌过于频繁，请稍后再试。"),
             headers=retry_after(_issue_limits(person.id)))
    login_throttle.succeeded(username)
    if person.must_change_password:
        # An administrator has seen this password: no token until its holder has set
        # their own (the API has no password change; the web page does it).
        fail(403, _("这是管理员为您设置的临时密码：请先在网页上登录，设置您自己的密码，"
                    "再使用本应用。"), code="password_change_required")
    raw, row = tokens.issue(person)
    db.session.commit()
    return {"token": raw, "expires_at": present.iso(row.expires_at)}, 201


def _issue_limits(user_id: int) -> list[tuple[Any, str, str]]:
    return [(item, "token-issue", str(user_id))
            for item in parse_many("; ".join(current_app.config["TOKEN_ISSUE_LIMITS"]))]


def _may_issue(user_id: int) -> bool:
    """Counts tokens issued per person (in Redis when configured, across workers)."""
    return rate_limits(lambda strategy: all(strategy.hit(*limit)
                                            for limit in _issue_limits(user_id)))


@route("/tokens/current", "DELETE", summary="Sign out: revoke the token of this request",
       tag="auth", responses={204: None})
def revoke_token():
    user()
    body()  # takes no members: anything sent is refused, not ignored
    tokens.revoke(g.api_token)
    db.session.commit()
    return "", 204


@route("/me", "GET", summary="The caller: username, display name, roles at units", tag="auth",
       responses={200: "Me"})
def me():
    return present.me(user())
