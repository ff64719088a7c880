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


def deliver(delivery_ids: list[int]) -> None:
    """Send these outbox rows; raising makes RQ retry the job (claims stop repeats)."""
    app = job_app()
    with app.app_context():
        from webapp.services.outbox import deliver as send

        failed = send(list(delivery_ids))
        if failed:
            raise RuntimeError(f"deliveries {failed} failed; they will be retried")


def fire_timer(timer_id: int) -> None:
    """Wake one stored timer if it is still pending and due (a repeat does nothing)."""
    app = job_app()
    with app.app_context():
        from webapp.services.workflow import fire_timer as fire

        fire(timer_id)


def verify_audit(run_id: str) -> dict | None:
    """Verify the audit chain for the page (``webapp.services.audit_check``)."""
    app = job_app()
    with app.app_context():
        from webapp.services.audit_check import run

        return run(run_id)


def sweep() -> dict:
    """Fire due timers, re-drive due or abandoned deliveries, send digests."""
    app = job_app()
    with app.app_context():
        from datetime import datetime, timezone

        from webapp.extensions import db
        from webapp.queue import enqueue
        from webapp.services import outbox
        from webapp.services.workflow import fire_due_timers

        now = datetime.now(timezone.utc)
        try:
            fired = fire_due_timers(now)
            db.session.commit()
        except Exception:  # noqa: BLE001 - deliveries and digests are still due
            db.session.rollback()
            app.logger.exception("firing due timers failed; the next sweep tries again")
            fired = None
        ids = outbox.due_ids(now)
        for i in range(0, len(ids), outbox.BATCH):
            enqueue(deliver, ids[i:i + outbox.BATCH])
        digests = outbox.send_digests(now)
        return {"timers": fired, "deliveries": len(ids), "digests": digests}
