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
                           capabilities=capabilities_for(current_user),
                           memberships=current_user.memberships, ROLES=ROLES, term=term)


@bp.route("/account")
@login_required
def account():
    return render_template("main/account.html", memberships=current_user.memberships,
                           ROLES=ROLES, term=term)


@bp.route("/healthz")
def healthz():
    return {"status": "ok"}


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
