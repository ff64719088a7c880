"""The audit log viewer: every change in the viewer's part of the tree, with a diff."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.admin import bp
from webapp.auth.login import roles_required
from webapp.i18n import current_locale_short
from webapp.pagination import paginate
from webapp.services import audit_view, export

PER_PAGE = 30


@bp.route("/audit")
@roles_required(*audit_view.VIEWER_ROLES)
def audit():
    filters = audit_view.parse_filters(request.args)
    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    if (fmt := export.wanted_format(request.args)) and not filters.errors:
        from webapp.admin import exports
        return exports.audit(fmt, audit_view.entries_query(current_user, filters, tz),
                             current_user, current_locale_short())
    found = paginate(audit_view.entries_query(current_user, filters, tz), PER_PAGE)
    lines = audit_view.present(found.rows, current_user, current_locale_short())
    from webapp.services import audit_check

    return render_template("admin/audit.html", lines=lines, total=found.total,
                           verification=audit_check.describe(audit_check.latest_or_none()),
                           page=found.page, per_page=PER_PAGE, filters=filters,
                           actions=audit_view.ACTIONS, object_types=audit_view.OBJECT_TYPES), \
        (422 if filters.errors else 200)


# ------------------------------------------------------------------------------ verifying

@bp.route("/audit/verify", methods=["POST"])
@roles_required(*audit_view.VIEWER_ROLES)
def audit_verify_start():
    """Start verifying the chain (a job: it reads the whole log); follow it on its page.
    Nothing in the database changes — a supervisor may start it."""
    from webapp.services import audit_check

    text = (request.form.get("anchor") or "").strip()
    anchor = audit_check.parse_anchor(text) if text else None
    if text and anchor is None:
        return render_template("admin/audit_verify.html", run=None, anchor=text,
                               anchor_error=True), 422
    try:
        run_id = audit_check.start(current_user, anchor)
    except audit_check.NotStarted:
        flash(_("校验暂时无法开始（任务队列没有响应），请稍后再试。"), "danger")
        return redirect(url_for("admin.audit"), 303)
    return redirect(url_for("admin.audit_verify", run_id=run_id), 303)


@bp.route("/audit/verify/<run_id>")
@roles_required(*audit_view.VIEWER_ROLES)
def audit_verify(run_id: str):
    """A verification's progress (the page reloads itself until it ends), then its result."""
    from redis.exceptions import RedisError

    from webapp.services import audit_check

    try:
        run = audit_check.load(run_id)
    except RedisError:  # where runs are kept does not answer: said, not a 500
        current_app.logger.warning("audit verification %s could not be read", run_id,
                                   exc_info=True)
        flash(_("校验结果暂时无法读取（任务队列没有响应），请稍后再试。"), "danger")
        return redirect(url_for("admin.audit"), 303)
    if run is None:
        abort(404)
    return render_template("admin/audit_verify.html", run=audit_check.describe(run), anchor="",
                           anchor_error=False)
