"""The in-app notification centre: the bell's unread count, the list, mark read."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, redirect, render_template, request, url_for

from flask_login import current_user, login_required
from sqlalchemy import bindparam, func, select, update

from webapp.database import write_lock
from webapp.extensions import db
from webapp.i18n import current_locale_short
from webapp.models import Instance, Notification
from webapp.pagination import paginate
from workflows.messages import render_title

bp = Blueprint("notifications", __name__)
PER_PAGE = 30
# A title is a one-line summary: a comment in it (a return reason, a remark) is cut to
# COMMENT_MAX characters and the whole title to TITLE_MAX.  The full text stays on the
# request's page (and in the e-mail's body).
COMMENT_MAX = 40
TITLE_MAX = 100


_UNREAD_ABOUT = select(Notification.id).where(
    Notification.user_id == bindparam("user_id"),
    Notification.instance_id == bindparam("instance_id"), Notification.read_at.is_(None))


def read_about(user, instance_id: int) -> int:
    """Mark read ``user``'s messages about a request they are opening (its page, one of
    its tasks, the API's answer for it): every kind — what they said (a task, a claim,
    a decision, a comment) is what the page shows, and a task stays on the 待办 list
    until it is done.  Committed at once; returns how many.  A read first, so a page
    with nothing unread writes nothing (on SQLite a write would wait for the lock)."""
    user_id = user.id
    ids = list(db.session.scalars(_UNREAD_ABOUT, {"user_id": user_id,
                                                  "instance_id": instance_id}))
    if not ids:
        return 0
    with write_lock():
        db.session.execute(update(Notification).where(
            Notification.id.in_(ids), Notification.read_at.is_(None))
            .values(read_at=datetime.now(timezone.utc)))
    db.session.commit()
    return len(ids)


def unread_count(user) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


# Explicit direction marks (embeddings, overrides, isolates): in a one-line title they
# would turn what follows around ("\u202egnp.exe"); plain right-to-left text needs none.
_DIRECTION_MARKS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def summary(text: str, limit: int) -> str:
    """``text`` on one line (runs of white space, line breaks too, become one space, and
    direction marks go), at most ``limit`` characters, ending in "…" when it was cut."""
    line = " ".join(str(text).translate(_DIRECTION_MARKS).split())
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


def title_of(notification: Notification, locale: str) -> str:
    """The notification's title in ``locale``: short and on one line."""
    return short_title(notification.kind, notification.params, locale)


# Still over TITLE_MAX with its comment cut to COMMENT_MAX (a duty called off names its
# time and station, whose English name is long): the station's name gives way first (the
# request's own title, shown under it, names the station again), then the comment, each
# down to so many characters, before the whole is cut at its end — the reason stays.
_GIVE_WAY = (("station_name", 12), ("station_name_en", 12), ("comment", 12))
_WHOLE = 10 ** 6  # summary() on one line, uncut


def short_title(kind: str, params, locale: str) -> str:
    """A title of ``kind`` from ``params``: one line, a comment in it shortened."""
    params = dict(params or {})
    if params.get("comment"):
        params["comment"] = summary(params["comment"], COMMENT_MAX)
    title = summary(render_title(kind, params, locale), _WHOLE)
    for name, least in _GIVE_WAY:
        over = len(title) - TITLE_MAX
        value = params.get(name)
        if over <= 0:
            break
        if isinstance(value, str) and len(value) > least:
            params[name] = summary(value, max(least, len(value) - over))
            title = summary(render_title(kind, params, locale), _WHOLE)
    return summary(title, TITLE_MAX)


@bp.route("/notifications")
@login_required
def index():
    unread_only = request.args.get("unread") == "1"
    stmt = select(Notification).where(Notification.user_id == current_user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    found = paginate(stmt.order_by(Notification.id.desc()), PER_PAGE)
    locale = current_locale_short()
    # Which request each is about: "已进入：答复诉求" twice says nothing without it.
    ids = {n.instance_id for n in found.rows if n.instance_id}
    titles = dict(db.session.execute(select(Instance.id, Instance.title_column(locale)).where(
        Instance.id.in_(ids))).all()) if ids else {}
    return render_template("notifications.html", rows=found.rows, total=found.total,
                           page=found.page, titles=titles,
                           per_page=PER_PAGE, unread_only=unread_only,
                           title_of=lambda n: title_of(n, locale))


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def read(notification_id: int):
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != current_user.id:
        abort(404)
    if notification.read_at is None:
        notification.read_at = datetime.now(timezone.utc)
        db.session.commit()
    if notification.kind == "stalled":  # an overdue task to give to someone: where that is done
        return redirect(url_for("admin.unassigned"))
    if notification.instance_id:
        return redirect(url_for("processes.instance", instance_id=notification.instance_id))
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def read_all():
    db.session.execute(update(Notification).where(
        Notification.user_id == current_user.id, Notification.read_at.is_(None))
        .values(read_at=datetime.now(timezone.utc)))
    db.session.commit()
    return redirect(url_for("notifications.index"))


def init_app(app) -> None:
    @app.context_processor
    def notification_badge():
        if current_user and current_user.is_authenticated:
            return {"unread_notifications": unread_count(current_user)}
        return {"unread_notifications": 0}


__all__ = ["bp", "init_app", "title_of", "summary", "read_about"]
