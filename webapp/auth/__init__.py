"""Sign-in, sign-out and the language switch."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from webapp.auth import views  # noqa: E402,F401
