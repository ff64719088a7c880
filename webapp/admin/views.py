from __future__ import annotations

from flask import render_template, request
from flask_login import current_user
from sqlalchemy import or_, select

from webapp.admin import bp
from webapp.auth.login import roles_required
from webapp.extensions import db
from webapp.main.capabilities import ADMIN_ROLES
from webapp.models import Membership, OrgUnit, User
from webapp.pagination import paginate
from webapp.services import export
from webapp.services.org import in_scope_clause
from workflows.org import ROLES, UNIT_KINDS, term

PER_PAGE = 50


@bp.route("/units")
@roles_required(*ADMIN_ROLES)
def units():
    scope = in_scope_clause(current_user, ADMIN_ROLES)
    kind = request.args.get("kind") or None
    q = (request.args.get("q") or "").strip()[:100]
    stmt = select(OrgUnit).where(scope)
    if kind:
        stmt = stmt.where(OrgUnit.kind == kind)
    if q:
        stmt = stmt.where(or_(OrgUnit.name.contains(q, autoescape=True),
                              OrgUnit.code.contains(q, autoescape=True)))
    if fmt := export.wanted_format(request.args):
        from webapp.admin import exports
        from webapp.i18n import current_locale_short
        return exports.units(fmt, stmt.order_by(OrgUnit.path), current_locale_short())
    found = paginate(stmt.order_by(OrgUnit.path), PER_PAGE)
    return render_template("admin/units.html", units=found.rows, total=found.total,
                           page=found.page, per_page=PER_PAGE, kind=kind, q=q, UNIT_KINDS=UNIT_KINDS,
                           term=term)


@bp.route("/users")
@roles_required(*ADMIN_ROLES)
def users():
    """The people in the viewer's part of the tree: search, filters, pages, download."""
    from sqlalchemy.orm import selectinload

    from webapp.i18n import current_locale_short
    from webapp.services import people_list

    search = people_list.parse(request.args, current_user)
    stmt = people_list.statement(search, current_user)
    if (fmt := export.wanted_format(request.args)) and not search.errors:
        from webapp.admin import exports
        return exports.users(fmt, stmt, current_user, current_locale_short())
    found = paginate(stmt.options(selectinload(User.unit),
                                  selectinload(User.memberships).selectinload(Membership.unit)),
                     PER_PAGE)
    return render_template("admin/users.html", users=found.rows, total=found.total,
                           page=found.page, per_page=PER_PAGE, search=search, ROLES=ROLES,
                           term=term, statuses=people_list.STATUSES), \
        (422 if search.errors else 200)


@bp.route("/instances")
@roles_required(*ADMIN_ROLES)
def instances():
    """Every request in the viewer's part of the tree: search, filters, pages."""
    from webapp.i18n import current_locale_short
    from webapp.models import ProcessDefinition
    from webapp.services import instance_search, reports

    search = instance_search.parse(request.args, current_user)
    stmt = instance_search.statement(search, current_user)
    locale = current_locale_short()
    if (fmt := export.wanted_format(request.args)) and not search.errors:
        from webapp.admin import exports
        return exports.instances(fmt, stmt, locale)
    found = paginate(stmt, PER_PAGE)
    processes = db.session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.id)).all()
    return render_template(
        "admin/instances.html", rows=found.rows, total=found.total, page=found.page,
        per_page=PER_PAGE, search=search, filters=search.filters, processes=processes,
        statuses=instance_search.STATUSES, units=reports.unit_choices(current_user),
        names=reports.process_names(locale),
        steps=instance_search.current_steps(found.rows, locale)), \
        (422 if search.errors else 200)


DELIVERY_ADMINS = ("platform_admin", "city_admin")


@bp.route("/deliveries")
@roles_required(*DELIVERY_ADMINS)
def deliveries():
    """The outbox: what failed (and why), with a button to send it again."""
    from webapp.models import Delivery

    status = request.args.get("status") or "failed"
    stmt = select(Delivery).where(Delivery.status == status)
    if fmt := export.wanted_format(request.args):
        from webapp.admin import exports
        return exports.deliveries(fmt, stmt.order_by(Delivery.id.desc()))
    found = paginate(stmt.order_by(Delivery.id.desc()), PER_PAGE)
    return render_template("admin/deliveries.html", rows=found.rows, total=found.total,
                           page=found.page,
                           per_page=PER_PAGE, status=status)


@bp.route("/deliveries/<int:delivery_id>/redrive", methods=["POST"])
@roles_required(*DELIVERY_ADMINS)
def redrive(delivery_id: int):
    from flask import abort, flash, redirect, url_for
    from flask_babel import gettext as _

    from webapp.models import Delivery
    from webapp.services.outbox import redrive as send_again

    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None:
        abort(404)
    if delivery.status == "failed":
        send_again(delivery)
        db.session.commit()
        flash(_("已重新发送。"), "success")
    return redirect(url_for("admin.deliveries"))


@bp.route("/stations/import", methods=["GET", "POST"])
@roles_required("platform_admin", "city_admin")
def import_stations():
    """Upload a CSV of stations: a report of every row; saved unless it is a dry run."""
    from flask import flash
    from flask_babel import gettext as _

    from webapp.admin.forms import StationImportForm
    from webapp.database import write_lock
    from webapp.i18n import current_locale_short
    from webapp.services.station_import import COLUMNS, StationFileError, import_stations as run

    form = StationImportForm()
    report = None
    if form.validate_on_submit():
        data = form.file.data.read()
        try:
            with write_lock():
                report = run(data, current_user, dry_run=form.dry_run.data)
        except StationFileError as exc:
            db.session.rollback()
            form.file.errors.append(exc.message(current_locale_short()))
        else:
            db.session.commit()
            if not report.dry_run and report.created + report.updated:
                flash(_("已保存 %(n)s 个驿站。", n=len(report.created) + len(report.updated)),
                      "success")
    return render_template("admin/stations_import.html", form=form, report=report,
                           columns=COLUMNS), (422 if form.errors else 200)


@bp.route("/stations/import/example.csv")
@roles_required("platform_admin", "city_admin")
def stations_template():
    """A few rows of the demo file, as a starting point (UTF-8 with BOM for Excel)."""
    from flask import Response

    from webapp.demo import CITY_STATIONS_CSV

    lines = CITY_STATIONS_CSV.read_text(encoding="utf-8").splitlines()[:4]
    return Response("\ufeff" + "\n".join(lines) + "\n", mimetype="text/csv",
                    headers={"Content-Disposition": export.content_disposition(
                        "stations-example.csv")})


# ---------------------------------------------------------------------------- unassigned
UNASSIGNED_PER_PAGE = 20


@bp.route("/unassigned")
@roles_required("unit_admin", "district_admin", "city_admin", "platform_admin")
def unassigned():
    """Tasks nobody holds in the viewer's part of the tree, each with a reassign form."""
    if fmt := export.wanted_format(request.args):
        from webapp.admin import exports
        from webapp.i18n import current_locale_short
        from webapp.services.unassigned import unassigned_tasks_query
        return exports.unassigned(fmt, unassigned_tasks_query(current_user), current_locale_short())
    return _unassigned_page({}, 200)


def _unassigned_page(errors: dict, status: int, typed: dict | None = None):
    from webapp.i18n import current_locale_short
    from webapp.services.progress import holders_by_task, step_label
    from webapp.services.unassigned import candidates_for, unassigned_tasks_query, who_should_act
    from webapp.services.workflow import spec_of_instance

    locale = current_locale_short()
    found = paginate(unassigned_tasks_query(current_user), UNASSIGNED_PER_PAGE)
    # Holders and candidates of the page's tasks: a query each, not one per row.
    holders = holders_by_task(task.id for task in found.rows)
    people = candidates_for(found.rows)
    rows = []
    for task in found.rows:
        spec = spec_of_instance(task.instance)
        step = spec.step(task.step)
        config = getattr(step, "config", None)
        rule = getattr(config, "approvers", None) or getattr(config, "assignee", None)
        rows.append({"task": task, "instance": task.instance,
                     "process": spec.name_en if locale == "en" and spec.name_en else spec.name,
                     "step": step_label(spec, task.step, locale),
                     "rule": who_should_act(task, rule, locale) if rule is not None else "",
                     # Overdue with nobody above: still with its holders, who are named.
                     "holders": holders.get(task.id, []),
                     "candidates": people[task.id]})
    # A task that left the list meanwhile (someone else assigned it) still gets its answer.
    listed = {row["task"].id for row in rows}
    elsewhere = [message for task_id, message in errors.items() if task_id not in listed]
    return render_template("admin/unassigned.html", rows=rows, total=found.total,
                           page=found.page, per_page=UNASSIGNED_PER_PAGE, errors=errors,
                           elsewhere=elsewhere, typed=typed or {}), status


@bp.route("/unassigned/<int:task_id>/reassign", methods=["POST"])
@roles_required("unit_admin", "district_admin", "city_admin", "platform_admin")
def reassign(task_id: int):
    from flask import abort, flash, redirect, url_for
    from flask_babel import gettext as _

    from webapp.i18n import current_locale_short
    from webapp.models import Task
    from webapp.services import access
    from webapp.services.unassigned import reassign as give
    from workflows.errors import WorkflowError

    task = db.session.get(Task, task_id)
    if task is None or not access.can_view(current_user, task.instance):
        abort(404)
    username = (request.form.get("username") or "").strip()[:64]
    comment = (request.form.get("comment") or "").strip() or None
    if not username:
        return _unassigned_page({task.id: _("请填写要指派的用户名。")}, 422)
    try:
        target = give(task, username, current_user, comment)
        db.session.commit()
    except WorkflowError as exc:
        db.session.rollback()
        status = 422 if exc.http_status == 404 else exc.http_status
        return _unassigned_page({task_id: exc.message(current_locale_short())}, status,
                                {task_id: username})
    flash(_("已指派给 %(name)s。", name=target.display_name), "success")
    return redirect(url_for("admin.unassigned"))


CALENDAR_ADMINS = ("platform_admin", "city_admin")


@bp.route("/calendar", methods=["GET", "POST"])
@roles_required(*CALENDAR_ADMINS)
def calendar():
    """Holidays and make-up working days (调休): what working-day deadlines count with."""
    from datetime import date

    from flask import flash, redirect, url_for
    from flask_babel import gettext as _

    from webapp.services import work_calendar as cal

    errors: dict[str, str] = {}
    problems: list = []
    typed = request.form if request.method == "POST" else {}
    year = request.args.get("year", type=int) or date.today().year
    if not 2000 <= year <= 2100:
        year = date.today().year

    def read(field: str, parse):
        try:
            return parse(request.form.get(field, ""))
        except cal.CalendarError as exc:
            errors[field] = str(exc)
            return None

    what = request.form.get("action") if request.method == "POST" else None
    if what in ("set", "remove"):
        day = read("day", cal.parse_day)
        working = read("kind", cal.parse_kind) if what == "set" else None
        name = read("name", cal.clean_name) if what == "set" else None
        if not errors and what == "set":
            cal.set_day(current_user, day, working, name)
            db.session.commit()
            cal.forget()
            flash(_("已保存：%(day)s。", day=day.isoformat()), "success")
            return redirect(url_for("admin.calendar", year=day.year))
        if not errors:
            if cal.remove_day(current_user, day):
                db.session.commit()
                cal.forget()
                flash(_("已删除：%(day)s，按平常的周一至周五计算。", day=day.isoformat()), "success")
            return redirect(url_for("admin.calendar", year=day.year))
    elif what == "import":
        try:
            count, problems = cal.import_lines(current_user, request.form.get("lines", ""))
        except cal.CalendarError as exc:
            count, errors["lines"] = 0, str(exc)
        if problems:
            db.session.rollback()
        elif count == 0:
            errors.setdefault("lines", _("没有读到任何日期。"))
        else:
            db.session.commit()
            cal.forget()
            flash(_("已导入 %(n)s 天。", n=count), "success")
            return redirect(url_for("admin.calendar", year=year))
    elif what is not None:
        errors["action"] = _("不认识的操作。")
    status = 422 if errors or problems else 200
    return render_template("admin/calendar.html", year=year, days=cal.days_of(year),
                           years=sorted(set(cal.years()) | {year}), errors=errors,
                           problems=problems, typed=typed), status
