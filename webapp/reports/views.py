from __future__ import annotations

from datetime import date

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from webapp.auth.login import roles_required
from webapp.extensions import db
from webapp.i18n import current_locale_short
from webapp.models import OrgUnit
from webapp.pagination import paginate
from webapp.reports import bp
from webapp.charts import Series, bar
from webapp.services import demand_report, export, five_ones, pairings, reports
from webapp.services.activities import CHINA

PER_PAGE = 30


def _year() -> int:
    this = five_ones.current_year()
    year = request.args.get("year", type=int)
    return year if year and this - 5 <= year <= this else this


def _district(choices: list[OrgUnit]) -> OrgUnit | None:
    wanted = request.args.get("district", type=int)
    return next((d for d in choices if d.id == wanted), None)


@bp.route("/five-ones")
@roles_required(*five_ones.VIEW_ROLES)
def five_ones_index():
    """Every branch in the viewer's scope with its 五个一 progress for the year."""
    year = _year()
    districts = demand_report.districts_in_scope(current_user)
    district = _district(districts)
    stmt = five_ones.branches_query(current_user, district)
    locale = current_locale_short()
    fmt = export.wanted_format(request.args)
    if fmt:
        return export.response(fmt, _("“五个一”进度") + f" {year}", _five_ones_columns(locale),
                               _all_progress(stmt, year))
    found = paginate(stmt, PER_PAGE)
    rows = five_ones.progress(list(found.rows), year)
    names = [r.branch.label(locale) for r in rows]
    hours = bar(_("各党支部志愿服务时长"), _("站长确认的值守时长（小时），本页的党支部。"), names,
                [Series(_("确认时长（小时）"), [round(r.hours, 1) for r in rows])])
    done = bar(_("各党支部“五个一”完成项数"), _("五项中已完成的项数，本页的党支部。"), names,
               [Series(_("已完成项数"), [r.done for r in rows])])
    return render_template("reports/five_ones.html", rows=rows, total=found.total,
                           page=found.page, per_page=PER_PAGE, year=year,
                           years=range(five_ones.current_year(), five_ones.current_year() - 3, -1),
                           items=five_ones.ITEMS, districts=districts, district=district,
                           hours_chart=hours, done_chart=done)


def _five_ones_columns(locale: str) -> list[export.Column]:
    columns = [export.Column(_("党支部"), lambda r: r.branch.label(locale)),
               export.Column(_("已完成项数"), lambda r: r.done)]
    columns += [export.Column(item.en if locale == "en" else item.zh,
                              lambda r, k=item.key: r.counts[k]) for item in five_ones.ITEMS]
    columns += [export.Column(_("确认时长（小时）"), lambda r: round(r.hours, 1)),
                export.Column(_("待确认报告"), lambda r: r.pending)]
    return columns


def _all_progress(stmt, year: int):
    """Every branch's progress, a batch of branches at a time (one query per batch)."""
    if stmt is None:
        return
    batch = []
    for branch in export.batched(db.session, stmt, 200):
        batch.append(branch[0])
        if len(batch) == 200:
            yield from five_ones.progress(batch, year)
            batch = []
    yield from five_ones.progress(batch, year)


@bp.route("/five-ones/<int:branch_id>")
@roles_required(*five_ones.VIEW_ROLES)
def five_ones_branch(branch_id: int):
    branch = db.session.get(OrgUnit, branch_id)
    if branch is None or branch.kind != "branch" or not five_ones.may_view(current_user, branch):
        abort(404)
    year = _year()
    entry = five_ones.progress([branch], year, current_locale_short())[0]
    # The branch's pairings in the year, past periods too (it may have moved station).
    periods = pairings.branch_history(branch, date(year, 1, 1), date(year, 12, 31))
    return render_template("reports/five_ones_branch.html", entry=entry, year=year,
                           items=five_ones.ITEMS, periods=periods,
                           tz=CHINA)


@bp.route("/demands")
@roles_required(*demand_report.VIEW_ROLES)
def demands():
    """Open workers' demands per district, by category and by how long they have waited."""
    districts = demand_report.districts_in_scope(current_user)
    district = _district(districts)
    f = reports.parse_filters({k: request.args.get(k, "") for k in ("since", "until")},
                              current_user)
    result = demand_report.report(current_user, district, since=f.start, until=f.end)
    if f.errors:
        result = demand_report.DemandReport([], [])
    locale = current_locale_short()
    labels = demand_report.category_labels(locale)
    buckets = [(key, en if locale == "en" else zh) for key, zh, en in demand_report.BUCKETS]
    category = lambda row: labels.get(row.key, row.key) or _("未分类")  # noqa: E731
    fmt = export.wanted_format(request.args)
    if fmt and not f.errors:
        by_category = request.args.get("by") == "category"
        first = (export.Column(_("类别"), category) if by_category else
                 export.Column(_("区县"), lambda row: row.key.label(locale)))
        columns = [first] + [export.Column(label, lambda row, k=key: row.counts[k])
                             for key, label in buckets]
        columns.append(export.Column(_("合计"), lambda row: row.total))
        return export.response(fmt, _("职工诉求办理情况"), columns,
                               result.categories if by_category else result.districts)

    def chart(title, rows, name):
        return bar(title, _("未办结的诉求，按等待时间分段；已超期的单独一段。"),
                   [name(r) for r in rows],
                   [Series(label, [r.counts[key] for r in rows]) for key, label in buckets],
                   stacked=True)
    return render_template("reports/demands.html", report=result, buckets=demand_report.BUCKETS,
                           districts=districts, district=district, labels=labels, filters=f,
                           district_chart=chart(_("各区县未办结诉求"), result.districts,
                                                lambda r: r.key.label(locale)),
                           category_chart=chart(_("各类别未办结诉求"), result.categories,
                                                category)), (422 if f.errors else 200)
