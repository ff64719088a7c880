"""The audit log viewer: every change in the viewer's part of the tree, with a diff."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app, render_template, request
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
    return render_template("admin/audit.html", lines=lines, total=found.total,
                           page=found.page, per_page=PER_PAGE, filters=filters,
                           actions=audit_view.ACTIONS, object_types=audit_view.OBJECT_TYPES), \
        (422 if filters.errors else 200)
