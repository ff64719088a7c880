"""Skills training: courses' attendance registers and completion certificates."""
from flask import Blueprint

bp = Blueprint("training", __name__)

from webapp.training import views  # noqa: E402,F401
