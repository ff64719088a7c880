"""Reports for branch secretaries and union staff: charts and tables of the processes,
steps, wishes, training, retreat quotas, 五个一 progress and workers' demands, each also
downloadable as CSV or XLSX."""
from flask import Blueprint

bp = Blueprint("reports", __name__)


@bp.record_once
def _chart_helpers(state) -> None:
    from webapp.charts import table_rows

    state.app.jinja_env.globals["chart_rows"] = table_rows


from webapp.reports import views, charts_views  # noqa: E402,F401
