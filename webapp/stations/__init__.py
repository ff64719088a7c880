"""The rest-station directory (工会驿站) and the micro-wish wall."""
from flask import Blueprint

bp = Blueprint("stations", __name__)

from webapp.stations import views  # noqa: E402,F401
