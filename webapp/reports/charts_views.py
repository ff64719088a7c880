"""The report pages with charts: an index, requests per process, time per step and SLA,
micro-wishes, course fill and retreat quotas.  ``?format=csv|xlsx`` on any of them
downloads the same numbers, with the same filters and scope."""
from __future__ import annotations

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from webapp.auth.login import roles_required
from webapp.charts import Series, bar, line
from webapp.extensions import db
from webapp.i18n import current_locale_short
from webapp.labels import status_label
from webapp.models import RetreatBatch
from webapp.reports import bp
from webapp.services import demand_report, export, five_ones, quotas, reports
from webapp.services.reports import VIEW_ROLES

TOP = 20  # rows drawn in a chart; the table and the download have them all


def _filters() -> reports.Filters:
    return reports.parse_filters(request.args, current_user)


def _page(template: str, f: reports.Filters, **context):
    return render_template(template, filters=f, units=reports.unit_choices(current_user),
                           **context), (422 if f.errors else 200)


def _process_arg(names: dict[str, str]) -> tuple[str | None, str | None]:
    """The chosen process, and a message when it names none."""
    process = (request.args.get("process") or "").strip()[:64] or None
    if process and process not in names:
        return None, _("没有这个流程")
    return process, None


@bp.route("", strict_slashes=False)
@login_required
def index():
    """The reports the viewer may open."""
    roles = {m.role for m in current_user.memberships}
    cards = []
    if roles & VIEW_ROLES:
        cards += [("reports.processes", _("各流程事项统计"), _("按状态、按月份统计各流程的事项。")),
                  ("reports.steps", _("环节用时与超时"), _("各环节办理用时的中位数，以及超过时限的次数。")),
                  ("reports.wishes", _("微心愿统计"), _("各区县、各驿站提交、认领、实现的微心愿。")),
                  ("reports.courses", _("培训报名情况"), _("各培训课程的报名、满员率、候补和结业情况。")),
                  ("reports.quotas_report", _("疗休养名额使用"), _("各单位疗休养名额的下拨和使用。"))]
    if roles & five_ones.VIEW_ROLES:
        cards.append(("reports.five_ones_index", _("“五个一”进度"),
                      _("各党支部志愿服务时长和“五个一”完成情况。")))
    if roles & demand_report.VIEW_ROLES:
        cards.append(("reports.demands", _("职工诉求办理情况"),
                      _("未办结的职工诉求，按类别和等待时间统计。")))
    if not cards:
        abort(403)
    return render_template("reports/index.html", cards=cards)


# ------------------------------------------------------------------------------ processes

@bp.route("/processes")
@roles_required(*VIEW_ROLES)
def processes():
    f = _filters()
    locale = current_locale_short()
    names = reports.process_names(locale)
    process, wrong = _process_arg(names)
    if wrong:
        f.errors["process"] = wrong
    result = reports.processes_report(current_user, f, process)
    fmt = export.wanted_format(request.args)
    if fmt and not f.errors:
        columns = [export.Column(_("流程"), lambda r: names.get(r.key, r.key))]
        columns += [export.Column(status_label(s), lambda r, s=s: r.counts.get(s, 0))
                    for s in reports.STATUS_ORDER + [s for s in result.statuses
                                                     if s not in reports.STATUS_ORDER]]
        columns.append(export.Column(_("合计"), lambda r: r.total))
        # The page's second chart, per month: one column a month (China time).
        columns += [export.Column(_("%(month)s 发起", month=m),
                                  lambda r, m=m: result.by_month.get(r.key, {}).get(m, 0))
                    for m in result.months]
        return export.response(fmt, _("各流程事项统计"), columns, result.processes)
    label = lambda r: names.get(r.key, r.key)  # noqa: E731
    by_state = bar(_("各流程事项（按状态）"), _("每个流程的事项数，按当前状态分段。"),
                   [label(r) for r in result.processes],
                   [Series(status_label(s), [r.counts.get(s, 0) for r in result.processes])
                    for s in result.statuses], stacked=True)
    by_month = line(_("每月新发起的事项"), _("每个流程每月发起的事项数（北京时间）。"),
                    result.months,
                    [Series(label(r), [result.by_month.get(r.key, {}).get(m, 0)
                                       for m in result.months]) for r in result.processes])
    return _page("reports/processes.html", f, by_state=by_state, by_month=by_month,
                 names=names, process=process, retired=reports.retired_processes())


# ------------------------------------------------------------------------------ steps

@bp.route("/steps")
@roles_required(*VIEW_ROLES)
def steps():
    f = _filters()
    locale = current_locale_short()
    names = reports.process_names(locale)
    process, wrong = _process_arg(names)
    if wrong:
        f.errors["process"] = wrong
    rows = reports.steps_report(current_user, f, process)
    labels = reports.step_labels({r.process for r in rows}, locale)
    returned = _("（退回申请人修改）")

    def step(r) -> str:
        name = labels.get((r.process, r.step), r.step)
        return f"{name}{returned}" if r.revise else name
    both = lambda r: f"{names.get(r.process, r.process)} · {step(r)}"  # noqa: E731
    fmt = export.wanted_format(request.args)
    if fmt and not f.errors:
        columns = [export.Column(_("流程"), lambda r: names.get(r.process, r.process)),
                   export.Column(_("环节"), step),
                   export.Column(_("任务数"), lambda r: r.tasks),
                   export.Column(_("已完成"), lambda r: r.closed),
                   export.Column(_("用时中位数（小时）"),
                                 lambda r: None if r.median_hours is None
                                 else round(r.median_hours, 1)),
                   export.Column(_("有时限"), lambda r: r.with_sla),
                   export.Column(_("超时"), lambda r: r.breaches)]
        return export.response(fmt, _("环节用时与超时"), columns, rows)
    timed = [r for r in rows if r.median_hours is not None][:TOP]
    median = bar(_("各环节用时中位数"), _("从任务开始到完成的小时数，取中位数。"),
                 [both(r) for r in timed],
                 [Series(_("中位数（小时）"), [round(r.median_hours, 1) for r in timed])])
    sla = [r for r in rows if r.with_sla][:TOP]
    breaches = bar(_("各环节超时次数"), _("有时限的任务中，按时完成与超过时限的次数。"),
                   [both(r) for r in sla],
                   [Series(_("按时"), [r.with_sla - r.breaches for r in sla]),
                    Series(_("超时"), [r.breaches for r in sla])], stacked=True)
    return _page("reports/steps.html", f, rows=rows, median=median, breaches=breaches,
                 names=names, process=process, step=step, retired=reports.retired_processes())


# ------------------------------------------------------------------------------ wishes

@bp.route("/wishes")
@roles_required(*VIEW_ROLES)
def wishes():
    f = _filters()
    locale = current_locale_short()
    by = "station" if request.args.get("by") == "station" else "district"
    fmt = export.wanted_format(request.args)
    if fmt and not f.errors:
        stmt = reports.wishes_query(current_user, f, by)
        columns = [export.Column(_("驿站") if by == "station" else _("区县"),
                                 lambda r: r[2] if locale == "en" and r[2] else r[1]),
                   export.Column(_("已提交"), lambda r: r[3]),
                   export.Column(_("已认领"), lambda r: int(r[4] or 0)),
                   export.Column(_("已实现"), lambda r: int(r[5] or 0))]
        return export.response(fmt, _("微心愿统计"), columns, export.batched(db.session, stmt))
    districts = reports.wish_rows(reports.wishes_query(current_user, f, "district"))
    stations = reports.wish_rows(reports.wishes_query(current_user, f, "station").limit(TOP))

    def chart(title, rows):
        return bar(title, _("提交、认领、实现的微心愿数。"), [r.label(locale) for r in rows],
                   [Series(_("已提交"), [r.submitted for r in rows]),
                    Series(_("已认领"), [r.claimed for r in rows]),
                    Series(_("已实现"), [r.fulfilled for r in rows])])
    return _page("reports/wishes.html", f,
                 by_district=chart(_("各区县微心愿"), districts),
                 by_station=chart(_("微心愿最多的驿站"), stations), top=TOP)


# ------------------------------------------------------------------------------ courses

@bp.route("/courses")
@roles_required(*VIEW_ROLES)
def courses():
    f = _filters()
    fmt = export.wanted_format(request.args)
    stmt = reports.courses_query(current_user, f)
    if fmt and not f.errors:
        columns = [export.Column(_("课程"), lambda r: r.course.title),
                   export.Column(_("类别"), lambda r: r.course.kind),
                   export.Column(_("开课日期"), lambda r: r.course.starts_on),
                   export.Column(_("名额"), lambda r: r.course.capacity),
                   export.Column(_("报名数"), lambda r: r.registered),
                   export.Column(_("已录取"), lambda r: r.enrolled),
                   export.Column(_("候补"), lambda r: r.waitlisted),
                   export.Column(_("满员率（百分比）"), lambda r: r.fill),
                   export.Column(_("已结业"), lambda r: r.completed),
                   export.Column(_("未结业（出勤不足）"), lambda r: r.not_completed),
                   export.Column(_("证书已作废（更正）"), lambda r: r.withdrawn)]
        rows = (reports.CourseRow.of(row) for row in export.batched(db.session, stmt))
        return export.response(fmt, _("培训报名情况"), columns, rows)
    rows = reports.course_rows(stmt.limit(200))
    drawn = rows[:TOP]
    fill = bar(_("课程满员率"), _("已录取人数占名额的百分比。"), [r.course.title for r in drawn],
               [Series(_("满员率"), [r.fill for r in drawn])], unit="%", axis=100,
               zero=_("所选课程都还没有录取学员。"))
    waiting = bar(_("课程候补人数"), _("正在候补名单上的人数。"), [r.course.title for r in drawn],
                  [Series(_("候补"), [r.waitlisted for r in drawn])],
                  zero=_("没有课程有人候补。"))
    return _page("reports/courses.html", f, rows=rows, fill=fill, waiting=waiting)


# ------------------------------------------------------------------------------ quotas

@bp.route("/quotas")
@roles_required(*VIEW_ROLES)
def quotas_report():
    f = _filters()
    locale = current_locale_short()
    stmt = select(RetreatBatch).order_by(RetreatBatch.starts_on.desc(), RetreatBatch.id.desc())
    if f.since:
        stmt = stmt.where(RetreatBatch.starts_on >= f.since)
    if f.until:
        stmt = stmt.where(RetreatBatch.starts_on <= f.until)
    batches = [] if f.errors else db.session.scalars(stmt).all()
    wanted = request.args.get("batch", type=int)
    batch = next((b for b in batches if b.id == wanted), batches[0] if batches else None)
    if request.args.get("batch") and (wanted is None or batch is None or batch.id != wanted):
        f.errors["batch"] = _("没有这个批次，或不在所选时间范围内")
        batch = None
    rows = []
    if batch is not None and not f.errors:
        rows = [r for r in quotas.quota_rows(batch, current_user) if r.amount is not None
                and (f.unit is None or r.unit.path.startswith(f.unit.path))]
    fmt = export.wanted_format(request.args)
    if fmt and not f.errors:
        columns = [export.Column(_("单位"), lambda r: r.unit.label(locale)),
                   export.Column(_("名额"), lambda r: r.amount),
                   export.Column(_("已下拨"), lambda r: r.handed_down),
                   export.Column(_("已使用"), lambda r: r.used),
                   export.Column(_("剩余"), lambda r: r.left),
                   export.Column(_("候补"), lambda r: r.waiting)]
        # The file says which batch it covers: 疗休养名额使用_<batch>_<date>.csv.
        named = _("疗休养名额使用") + ("_" + batch.label(locale) if batch is not None else "")
        return export.response(fmt, named, columns, rows, sheet_name=_("疗休养名额使用"))
    drawn = rows[:TOP]
    chart = bar(_("各单位名额使用"), _("每个单位的名额分为已使用、未使用和已下拨给下级三段。"),
                [r.unit.label(locale) for r in drawn],
                [Series(_("已使用"), [r.used for r in drawn]),
                 Series(_("剩余"), [r.left for r in drawn]),
                 Series(_("已下拨"), [r.handed_down for r in drawn])], stacked=True)
    return _page("reports/quotas.html", f, rows=rows, quota_chart=chart, batches=batches, batch=batch)
