"""Retreat (疗休养) quotas: see them down the tree, hand places on, give unused ones back."""
from flask import Blueprint

bp = Blueprint("retreat", __name__)

from webapp.retreat import views  # noqa: E402,F401
