from __future__ import annotations

from flask import abort, render_template, request
from flask_login import current_user

from webapp.auth.login import roles_required
from webapp.extensions import db
from webapp.i18n import current_locale_short
from webapp.models import OrgUnit, Pairing
from webapp.pagination import paginate
from webapp.reports import bp
from webapp.services import demand_report, five_ones
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
    found = paginate(stmt, PER_PAGE)
    rows = five_ones.progress(list(found.rows), year)
    return render_template("reports/five_ones.html", rows=rows, total=found.total,
                           page=found.page, per_page=PER_PAGE, year=year,
                           years=range(five_ones.current_year(), five_ones.current_year() - 3, -1),
                           items=five_ones.ITEMS, districts=districts, district=district)


@bp.route("/five-ones/<int:branch_id>")
@roles_required(*five_ones.VIEW_ROLES)
def five_ones_branch(branch_id: int):
    branch = db.session.get(OrgUnit, branch_id)
    if branch is None or branch.kind != "branch" or not five_ones.may_view(current_user, branch):
        abort(404)
    year = _year()
    entry = five_ones.progress([branch], year)[0]
    from sqlalchemy import select

    stations = db.session.scalars(select(OrgUnit).join(
        Pairing, Pairing.station_id == OrgUnit.id).where(
        Pairing.branch_id == branch.id, Pairing.active.is_(True)).order_by(OrgUnit.name)).all()
    return render_template("reports/five_ones_branch.html", entry=entry, year=year,
                           items=five_ones.ITEMS, stations=stations,
                           tz=CHINA)


@bp.route("/demands")
@roles_required(*demand_report.VIEW_ROLES)
def demands():
    """Open workers' demands per district, by category and by how long they have waited."""
    districts = demand_report.districts_in_scope(current_user)
    district = _district(districts)
    result = demand_report.report(current_user, district)
    return render_template("reports/demands.html", report=result, buckets=demand_report.BUCKETS,
                           districts=districts, district=district,
                           labels=demand_report.category_labels(current_locale_short()))
