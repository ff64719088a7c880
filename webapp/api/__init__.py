"""The JSON API of shared/API.md under /api/v1, for the union's apps and integrations."""
from __future__ import annotations

from webapp.api.registry import bp
from webapp.api import auth, downloads, openapi, views  # noqa: F401  (declare the routes)
from webapp.api.http import init_errors

init_errors(bp)

__all__ = ["bp"]
