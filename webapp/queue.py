"""The job queue: RQ on Redis when ``REDIS_URL`` is set, else RQ on an in-process server.

Embedded (no ``REDIS_URL``): a fakeredis server lives in this process and a worker thread
runs jobs off the request path — the same job functions that ``flask worker`` (or
``rq worker``) processes run in production.  Jobs are enqueued only after the database
commit that made them necessary (``enqueue_after_commit``), so a rolled-back request
never sends anything.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from flask import Flask, current_app
from rq import Queue, Retry, SimpleWorker
from rq.timeouts import TimerDeathPenalty
from sqlalchemy import event
from sqlalchemy.orm import Session

from webapp.extensions import db

QUEUE_NAME = "unionflow"
EXTENSION_KEY = "unionflow_queue"
# A Redis that hangs (or a host that no longer answers) must not hang the requests that
# enqueue after their commit: they give up after REDIS_TIMEOUT seconds, and for
# DOWN_PAUSE seconds after that the web process does not try again — what those jobs
# would have sent waits in the database's outbox, which the sweeper sends once Redis
# answers.  (`flask worker` raises the read time-out above its blocking wait itself.)
REDIS_TIMEOUT = 5
DOWN_PAUSE = 30


@dataclass
class QueueRuntime:
    connection: object
    embedded: bool
    queue_name: str = QUEUE_NAME
    down_until: float = 0.0  # time.monotonic() before which enqueues are not tried
    _worker_thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def queue(self) -> Queue:
        return Queue(self.queue_name, connection=self.connection)


class EmbeddedWorker(SimpleWorker):
    """A worker that can live in a thread: no signal handlers, timer-based job timeouts."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        pass  # signals can only be handled in the main thread, which is the web server's


def _connect(app: Flask) -> QueueRuntime:
    url = app.config.get("REDIS_URL")
    if url:
        import redis

        return QueueRuntime(redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT,
                                                 socket_timeout=REDIS_TIMEOUT),
                            embedded=False)
    import fakeredis

    return QueueRuntime(fakeredis.FakeRedis(server=fakeredis.FakeServer()), embedded=True)


def runtime(app: Flask | None = None) -> QueueRuntime:
    app = app or current_app._get_current_object()
    return app.extensions[EXTENSION_KEY]


def start_embedded_worker(app: Flask) -> None:
    """Start the in-process worker thread once; it pushes the app context for its jobs."""
    rt = runtime(app)
    with rt._lock:
        if rt._worker_thread is not None and rt._worker_thread.is_alive():
            return

        def work():
            with app.app_context():
                worker = EmbeddedWorker([rt.queue()], connection=rt.connection)
                worker.work(logging_level="WARNING")

        rt._worker_thread = threading.Thread(target=work, name="unionflow-jobs", daemon=True)
        rt._worker_thread.start()
        interval = app.config.get("SWEEP_INTERVAL")
        if interval:
            start_sweeper(app, interval)


def start_sweeper(app: Flask, interval: float) -> threading.Thread:
    """A thread that re-drives due deliveries and fires due timers every ``interval`` s."""
    def sweep_forever():
        from webapp import jobs

        stop = threading.Event()
        while not stop.wait(interval):
            with app.app_context():
                try:
                    jobs.sweep()
                except Exception:  # noqa: BLE001 - keep sweeping; the log tells why
                    app.logger.exception("sweep failed")

    thread = threading.Thread(target=sweep_forever, name="unionflow-sweeper", daemon=True)
    thread.start()
    return thread


def enqueue(func, *args, **kwargs):
    """Put a job on the queue now (use ``enqueue_after_commit`` inside a transaction).

    Failed jobs are retried by RQ a few times; the outbox sweeper covers the rest.
    """
    app = current_app._get_current_object()
    rt = runtime(app)
    if rt.embedded and app.config.get("EMBEDDED_WORKER", True):
        start_embedded_worker(app)
    kwargs.setdefault("retry", Retry(max=3, interval=[5, 30, 120]))
    return rt.queue().enqueue(func, *args, **kwargs)


def enqueue_after_commit(func, *args, **kwargs) -> None:
    """Enqueue once the current transaction commits; drop it if the transaction rolls
    back.  (Nothing is scheduled for later in Redis: timers are rows the sweep fires.)"""
    session = db.session()
    if not session.in_transaction():
        session.begin()  # so a rollback of "this transaction" has something to roll back
    pending = session.info.setdefault("jobs_after_commit", [])
    pending.append((func, args, kwargs))


def _after_commit(session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released; the real commit is still to come
    jobs = session.info.pop("jobs_after_commit", [])
    if not jobs:
        return
    rt = runtime()
    for func, args, kwargs in jobs:
        if time.monotonic() < rt.down_until:
            current_app.logger.info("Redis did not answer lately: %s left to the sweeper",
                                    func.__name__)
            continue
        try:
            enqueue(func, *args, **kwargs)
        except Exception:  # noqa: BLE001 - Redis down: the sweeper re-drives from the database
            rt.down_until = time.monotonic() + DOWN_PAUSE
            current_app.logger.exception("could not enqueue %s after commit", func.__name__)


def _after_rollback(session) -> None:
    session.info.pop("jobs_after_commit", None)


def _after_soft_rollback(session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        _after_rollback(session)


# Every session in this process: jobs are queued by the transaction that wanted them.
event.listen(Session, "after_commit", _after_commit)
event.listen(Session, "after_soft_rollback", _after_soft_rollback)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = _connect(app)
    rt = app.extensions[EXTENSION_KEY]
    if rt.embedded and app.config.get("EMBEDDED_WORKER") and app.config.get(
            "EMBEDDED_WORKER_AUTOSTART"):
        # With the first request, so CLI commands and imports start no threads.
        @app.before_request
        def _start_jobs():
            if rt._worker_thread is None:
                start_embedded_worker(app)
