"""The home page: what the signed-in person can do here."""
from flask import Blueprint

bp = Blueprint("main", __name__)

from webapp.main import views  # noqa: E402,F401
