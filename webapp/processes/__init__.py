"""Starting processes and following one's requests."""
from flask import Blueprint

bp = Blueprint("processes", __name__)


@bp.record_once
def _form_helpers(state) -> None:
    from webapp.services.choices import drawn_filter

    # _form.html draws a station field's filter when the form was built with one.
    state.app.jinja_env.globals["station_filter_of"] = drawn_filter


from webapp.processes import views  # noqa: E402,F401
