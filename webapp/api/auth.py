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


@route("/tokens", "POST", summary="Sign in: exchange username and password for a token "
       "(with new_password: set one's own password first, as a temporary one requires)",
       tag="auth", auth=False, body="TokenRequest", responses={201: "Token"},
       errors=(401, 403, 422, 429))
def issue_token():
    payload, _files = body()
    errors: dict = {}
    username = text_field(payload, "username", required=True, max_length=64, errors=errors)
    password = payload.get("password")
    if not isinstance(password, str) or not password:
        errors["password"] = [_("此项必填。")]
    new_password = _new_password(payload, errors, required=False)
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
    if new_password is not None:
        _change_password(person, password, new_password)
    elif person.must_change_password:
        # An administrator has seen this password: no token until its holder has set
        # their own — here (new_password) or on the web page.
        fail(403, _("这是管理员为您设置的临时密码：请先设置您自己的密码（在本应用中输入新密码，"
                    "或在网页上登录后修改），再继续使用。"), code="password_change_required")
    raw, row = tokens.issue(person)
    db.session.commit()
    return {"token": raw, "expires_at": present.iso(row.expires_at)}, 201


@route("/me/password", "POST", summary="Change one's own password: every token of the "
       "caller ends, the answer is a new one", tag="auth", body="PasswordChange",
       responses={200: "Token"}, errors=(422, 429))
def change_password():
    person = user()
    payload, _files = body()
    errors: dict = {}
    password = payload.get("password")
    if not isinstance(password, str) or not password:
        errors["password"] = [_("请填写当前密码")]
    new_password = _new_password(payload, errors, required=True)
    if errors:
        invalid(errors)
    if login_throttle.blocked(person.username):
        fail(429, _("密码错误次数过多，请稍后再试。"),
             headers=login_throttle.retry_after(person.username))
    _change_password(person, password, new_password)
    raw, row = tokens.issue(person)
    db.session.commit()
    return {"token": raw, "expires_at": present.iso(row.expires_at)}


def _new_password(payload: dict, errors: dict, *, required: bool) -> str | None:
    """``new_password`` of a body: the same limits as the web page's 新密码."""
    value = payload.get("new_password")
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        errors["new_password"] = [_("请填写新密码")]
    elif len(value) < 8:
        errors["new_password"] = [_("密码至少 8 个字符")]
    elif len(value) > 256:
        errors["new_password"] = [_("密码最多 256 个字符")]
    else:
        return value
    return None


def _change_password(person, current: str, new: str) -> None:
    """The person sets their own password, proving ``current`` (every session and token
    of theirs ends, as on the web page); refusals are 422s naming the member."""
    from webapp.i18n import current_locale_short
    from webapp.services.people import PeopleError, WrongPassword, change_own_password

    try:
        change_own_password(person, current, new)
    except WrongPassword as exc:
        db.session.rollback()
        login_throttle.failed(person.username)
        invalid({"password": [exc.message(current_locale_short())]})
    except PeopleError as exc:
        db.session.rollback()
        invalid({"new_password": [exc.message(current_locale_short())]})


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
