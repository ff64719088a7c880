"""Reports for branch secretaries and union staff: 五个一 progress, open workers' demands."""
from flask import Blueprint

bp = Blueprint("reports", __name__)

from webapp.reports import views  # noqa: E402,F401
