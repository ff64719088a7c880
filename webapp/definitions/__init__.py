"""Process definitions in the browser, for platform administrators: versions and running
requests, edit with problems shown at their lines and a live diagram, publish, compare,
retire."""
from flask import Blueprint

bp = Blueprint("definitions", __name__)

from webapp.definitions import views  # noqa: E402,F401
