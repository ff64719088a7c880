from __future__ import annotations

from flask import render_template
from flask_login import current_user, login_required

from webapp.main import bp
from webapp.main.capabilities import capabilities_for
from workflows.org import ROLES, term


@bp.route("/")
@login_required
def home():
    return render_template("main/home.html",
                           capabilities=capabilities_for(current_user), waiting=_waiting(),
                           startable=_startable(), my_stations=_my_stations(),
                           memberships=current_user.memberships, ROLES=ROLES, term=term)


def _my_stations() -> list:
    """The stations the person heads or administers there (a role held at the station
    itself), for the 我的驿站 card: each links to the station and its duty slots."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Station
    from webapp.stations.views import SLOT_MANAGERS

    units = sorted({m.unit_id for m in current_user.memberships if m.role in SLOT_MANAGERS})
    if not units:
        return []
    return db.session.scalars(select(Station).where(Station.unit_id.in_(units))
                              .order_by(Station.unit_id)).all()


STARTABLE_NAMED = 6  # the 办事 card names this many of the processes one may start


def _startable() -> dict:
    """The names of the processes the person may start (the first STARTABLE_NAMED, and
    whether there are more), for the 办事 card — whatever this installation has
    published, not a fixed list of the shipped ones."""
    from webapp.i18n import current_locale_short
    from webapp.services.workflow import startable_processes

    english = current_locale_short() == "en"
    names = [spec.name_en if english and spec.name_en else spec.name
             for _definition, spec in startable_processes(current_user)]
    return {"names": names[:STARTABLE_NAMED], "more": len(names) > STARTABLE_NAMED}


def _waiting() -> dict:
    """What waits for the person, for the top of their home page: their open tasks
    (counted up to the lists' count limit), and their own requests sent back to them,
    running and on a waiting list — a rider opening the app sees at once that a wish
    came back to be corrected."""
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.models import Instance
    from webapp.pagination import count_limit
    from webapp.services.workflow import assigned_tasks_query

    limit = count_limit()
    tasks = db.session.scalar(select(func.count()).select_from(
        assigned_tasks_query(current_user).order_by(None).limit(limit + 1).subquery())) or 0
    mine = dict(db.session.execute(
        select(Instance.status, func.count()).where(
            Instance.applicant_id == current_user.id,
            Instance.status.in_(("returned", "running", "waitlisted")))
        .group_by(Instance.status)).all())
    return {"tasks": min(tasks, limit), "tasks_capped": tasks > limit,
            "returned": mine.get("returned", 0), "running": mine.get("running", 0),
            "waitlisted": mine.get("waitlisted", 0)}


@bp.route("/account")
@login_required
def account():
    return render_template("main/account.html", memberships=current_user.memberships,
                           ROLES=ROLES, term=term)


@bp.route("/healthz")
def healthz():
    """For a load balancer: 200 when the database answers with its schema at the
    migrations' head and (with REDIS_URL) Redis answers; else 503 naming what failed.
    The driver's words (host names, user names) go to the log, not to the answer."""
    from flask import current_app

    from webapp.health import check_database, ping_redis

    app = current_app._get_current_object()
    checks = {}
    try:
        problem = check_database(app)
        checks["database"] = problem or "ok"
    except Exception as exc:  # noqa: BLE001 - whatever the driver raises, the answer is 503
        app.logger.warning("healthz: database: %s", exc)
        # The driver's class (ConnectionTimeout, not SQLAlchemy's OperationalError).
        checks["database"] = f"unreachable ({type(getattr(exc, 'orig', None) or exc).__name__})"
    if app.config.get("REDIS_URL"):
        try:
            ping_redis(app)
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            app.logger.warning("healthz: redis: %s", exc)
            checks["redis"] = f"unreachable ({type(exc).__name__})"
    ok = all(value == "ok" for value in checks.values())
    return {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """A person sets a password of their own — the temporary one an administrator gave
    them, or one they fear someone saw.  Every other session and API token ends; this
    one goes on.  Failed guesses of the current password count as failed sign-ins."""
    from flask import current_app, flash, redirect, request, url_for
    from flask_babel import gettext as _
    from flask_login import login_user

    from webapp.extensions import db
    from webapp.i18n import current_locale_short
    from webapp.main.forms import PasswordChangeForm
    from webapp.security import login_throttle
    from webapp.services.people import PeopleError, WrongPassword, change_own_password

    form = PasswordChangeForm()
    user = current_user._get_current_object()
    temporary = user.must_change_password
    if temporary:  # the password they hold is the one they were handed
        form.current.label.text = _("管理员给您的临时密码")
    if form.validate_on_submit():
        if login_throttle.blocked(user.username):
            form.current.errors.append(_("密码错误次数过多，请稍后再试。"))
        else:
            try:
                revoked = change_own_password(user, form.current.data, form.new.data)
            except WrongPassword as exc:
                db.session.rollback()
                login_throttle.failed(user.username)
                form.current.errors.append(exc.message(current_locale_short()))
            except PeopleError as exc:
                db.session.rollback()
                form.new.errors.append(exc.message(current_locale_short()))
            else:
                db.session.commit()
                # This session goes on with the new session token, and so does a
                # "remember me" cookie of this device (the old one no longer opens).
                cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
                login_user(user, remember=cookie in request.cookies)
                flash(_("密码已修改。其他设备上的登录和 %(n)s 个 API 令牌已失效，请用新密码重新登录。",
                        n=revoked) if revoked else
                      _("密码已修改。其他设备上的登录已失效，请用新密码重新登录。"), "success")
                # A first password of one's own: on to what they came for.
                return redirect(url_for("main.home" if temporary else "main.account"))
    return (render_template("main/password.html", form=form, temporary=temporary),
            422 if form.errors else 200)


@bp.route("/account/notifications", methods=["GET", "POST"])
@login_required
def notification_settings():
    from flask import flash, redirect, url_for
    from flask_babel import gettext as _

    from webapp.extensions import db
    from webapp.main.forms import NotificationSettingsForm
    from webapp.models import NotificationSettings

    settings = db.session.get(NotificationSettings, current_user.id) or NotificationSettings(
        user_id=current_user.id, email_enabled=True, digest_low_priority=True)
    form = NotificationSettingsForm(obj=settings)
    if form.validate_on_submit():
        form.populate_obj(settings)
        db.session.add(settings)
        db.session.commit()
        flash(_("通知设置已保存。"), "success")
        return redirect(url_for("main.notification_settings"))
    return render_template("main/notification_settings.html", form=form), (
        422 if form.errors else 200)
