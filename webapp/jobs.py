"""Job functions.  Module level, plain arguments only (ids and values), so that the
embedded worker thread and separate ``flask worker`` processes run them the same way."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import current_app, has_app_context

_worker_app = None


def job_app():
    """The app a job runs in: the current one, else one built once per worker process."""
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()
    if _worker_app is None:
        from webapp import create_app

        _worker_app = create_app()
    return _worker_app


def ping(token: str) -> str:
    """Answer a queue check: proves a worker is taking jobs (``flask queue-check``)."""
    app = job_app()
    with app.app_context():
        from webapp.queue import runtime

        answered = datetime.now(timezone.utc).isoformat()
        runtime(app).connection.set(f"unionflow:ping:{token}", answered, ex=300)
        return answered
