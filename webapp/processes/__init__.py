"""Starting processes and following one's requests."""
from flask import Blueprint

bp = Blueprint("processes", __name__)

from webapp.processes import views  # noqa: E402,F401
