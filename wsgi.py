"""WSGI entry point for gunicorn: ``gunicorn -w 4 -b 127.0.0.1:8000 wsgi:app``.

Served this way UnionFlow runs in production mode unless UNIONFLOW_ENV says otherwise,
so it refuses to start without a real SECRET_KEY.
"""
import os

os.environ.setdefault("UNIONFLOW_ENV", "production")

from webapp import create_app  # noqa: E402
from webapp.settings import ConfigError  # noqa: E402

try:
    app = create_app()
except ConfigError as exc:
    message = f"UnionFlow cannot start: {exc.message}"
    try:
        from gunicorn.errors import AppImportError
    except ImportError:  # any other server
        raise SystemExit(message) from None

    class StartError(AppImportError, RuntimeError):
        """One line from gunicorn either way: a worker prints an AppImportError and the
        arbiter stops (no endless re-spawning of workers that cannot boot); with
        ``--preload`` the arbiter loads the app itself and prints only a RuntimeError
        without its traceback ("Error: …", exit status 1)."""

    raise StartError(message) from None
