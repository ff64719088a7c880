from __future__ import annotations

from flask import (current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _
from flask_babel import refresh as refresh_locale
from flask_login import current_user, login_required, login_user, logout_user

from webapp.auth import bp
from webapp.auth import login as login_clock  # _now(), which tests move
from webapp.auth.forms import LoginForm
from webapp.extensions import db
from webapp.models.types import utcnow
from webapp.security import is_safe_next, login_throttle
from webapp.services.users import authenticate


def _next_url(candidate: str | None) -> str:
    return candidate if is_safe_next(candidate) else url_for("main.home")


# When a signed-out person picked a language (the sign-in page's switch); a pick older
# than this is someone else's, who walked away from the sign-in page.
_PICKED = "locale_picked"
_PICK_KEPT_SECONDS = 15 * 60


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_next_url(request.args.get("next")))
    form = LoginForm(next=request.args.get("next", ""))
    status, headers = 200, {}
    if form.validate_on_submit():
        username = form.username.data.strip()
        if login_throttle.blocked(username):
            current_app.logger.warning("sign-in throttled for %r from %s", username,
                                       request.remote_addr)
            form.form_errors.append(_("登录失败次数过多，请几分钟后再试。"))
            status, headers = 429, login_throttle.retry_after(username)
        else:
            user = authenticate(username, form.password.data)
            if user is None:
                login_throttle.failed(username)
                form.form_errors.append(_("用户名或密码不正确。"))
                status = 401
            else:
                login_throttle.succeeded(username)
                # A language picked on the sign-in page is this person's choice: it
                # carries over (and is kept, as a switch when signed in is); a language
                # left in the session by whoever used this browser before is not.
                picked_at = session.get(_PICKED)
                picked = session.get("locale") if isinstance(picked_at, int) and (
                    0 <= login_clock._now() - picked_at <= _PICK_KEPT_SECONDS) else None
                session.clear()  # nothing else from before sign-in carries over
                login_user(user, remember=form.remember.data)
                if picked:
                    user.locale = picked
                # The language of this request was chosen while nobody was signed in (the
                # browser's); the welcome is in the account's.
                refresh_locale()
                first_time = user.last_login_at is None
                user.last_login_at = utcnow()
                db.session.commit()
                flash(_("欢迎，%(name)s。", name=user.display_name) if first_time else
                      _("欢迎回来，%(name)s。", name=user.display_name), "success")
                return redirect(_next_url(form.next.data))
    elif request.method == "POST":
        status = 422
    return render_template("auth/login.html", form=form), status, headers


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    user = current_user._get_current_object()
    # A new token makes every copy of the old session and remember-me cookies worthless.
    user.rotate_session_token()
    db.session.commit()
    logout_user()
    session.clear()
    # logout_user asked for the remember-me cookie to go; clear() dropped that request.
    session["_remember"] = "clear"
    flash(_("您已安全退出。"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/locale", methods=["POST"])
def set_locale():
    locale = request.form.get("locale", "")
    if locale in current_app.config["LANGUAGES"]:
        session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
            db.session.commit()
        else:
            session[_PICKED] = login_clock._now()  # for the sign-in that follows
    return redirect(_next_url(request.form.get("next")))
