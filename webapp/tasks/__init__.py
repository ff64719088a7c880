"""The inbox, and deciding a task."""
from flask import Blueprint

bp = Blueprint("tasks", __name__)

from webapp.tasks import views  # noqa: E402,F401
