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
                           capabilities=capabilities_for(current_user.roles),
                           memberships=current_user.memberships, ROLES=ROLES, term=term)


@bp.route("/account")
@login_required
def account():
    return render_template("main/account.html", memberships=current_user.memberships,
                           ROLES=ROLES, term=term)


@bp.route("/healthz")
def healthz():
    return {"status": "ok"}
