"""WSGI entry point for gunicorn: ``gunicorn -w 4 -b 127.0.0.1:8000 wsgi:app``.

Served this way UnionFlow runs in production mode unless UNIONFLOW_ENV says otherwise,
so it refuses to start without a real SECRET_KEY.
"""
import os

os.environ.setdefault("UNIONFLOW_ENV", "production")

from webapp import create_app  # noqa: E402

app = create_app()
