"""Administration pages for union staff, limited to the part of the tree they look after."""
from flask import Blueprint

bp = Blueprint("admin", __name__)

from webapp.admin import audit, people, views  # noqa: E402,F401
