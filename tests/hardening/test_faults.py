"""Faults in what the app stands on, while people use it.

* PostgreSQL drops the connection in the middle of an approval: the person gets a clean
  error page (or the API's error shape) in their language, nothing of the step is
  written, and the next request works.
* Redis is down: pages still work — sign-in included — and the e-mails wait in the
  outbox; once Redis is back the sweeper hands them to a worker and each goes out once.
* A worker is killed with SIGKILL in the middle of sending: the message still goes out,
  once (a private Redis, so this runs on either database).

The Redis cases start their own ``redis-server`` on a free port (they need the binary);
the PostgreSQL case runs when the suite runs on PostgreSQL (``TEST_DATABASE_URL``).
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.pool import NullPool

from tests.conftest import require_service
from tests.webapp.test_pages import submit_wish, task_id_of
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Delivery, HistoryEntry, Instance, Task

PASSWORD = "demo-pass-2026"


def sign_in(client, who):
    client.post("/auth/logout")
    assert client.post("/auth/login", data={"username": who,
                                            "password": PASSWORD}).status_code == 302
    return client


# ------------------------------------------------------------------ PostgreSQL drops out

class ConnectionKiller:
    """Terminates the backend of the connection about to run a matching statement (or
    about to commit), from a separate connection, as a failover or a DBA would."""

    def __init__(self, engine, url: str, at: str):
        self.engine, self.at, self.fired = engine, at, False
        self.killer = create_engine(url, poolclass=NullPool)

    def _kill(self, dbapi_connection) -> None:
        self.fired = True
        pid = dbapi_connection.info.backend_pid
        with self.killer.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})

    def before_execute(self, conn, cursor, statement, parameters, context, executemany):
        # Anywhere in the statement: on PostgreSQL a step's writes are parts of one
        # statement (``WITH step_instance AS (UPDATE …), step_history AS (INSERT …)``).
        if not self.fired and self.at != "commit" and self.at in " ".join(
                statement.upper().split()):
            self._kill(cursor.connection)

    def before_commit(self, conn):
        if not self.fired and self.at == "commit" and conn.info.get("wrote_in_request"):
            self._kill(conn.connection.dbapi_connection)

    def mark_write(self, conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "WITH")):
            conn.info["wrote_in_request"] = True

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self.mark_write)
        event.listen(self.engine, "before_cursor_execute", self.before_execute)
        event.listen(self.engine, "commit", self.before_commit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self.mark_write)
        event.remove(self.engine, "before_cursor_execute", self.before_execute)
        event.remove(self.engine, "commit", self.before_commit)
        self.killer.dispose()


def written(instance_id: int) -> tuple:
    db.session.rollback()
    return (db.session.scalar(select(func.count(HistoryEntry.id)).where(
                HistoryEntry.instance_id == instance_id)),
            tuple(db.session.execute(select(Task.id, Task.status).where(
                Task.instance_id == instance_id).order_by(Task.id))),
            db.session.get(Instance, instance_id).lock_version,
            db.session.scalar(select(func.count(Delivery.id))))


@pytest.fixture
def postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("runs in the PostgreSQL pass (TEST_DATABASE_URL): SQLite has no server "
                    "connection to drop")
    return app


@pytest.mark.parametrize("at", ["INSERT INTO HISTORY", "UPDATE TASKS", "INSERT INTO NOTIFICATIONS",
                                "INSERT INTO AUDIT_ENTRIES", "commit"])
def test_connection_dropped_mid_approval_fails_cleanly_and_leaves_no_half_step(
        postgres, client, demo, at):
    instance_id = submit_wish(sign_in(client, "rider1"))
    task_id = task_id_of(instance_id)
    head = sign_in(client, "station_head")
    before = written(instance_id)
    with ConnectionKiller(db.engine, db.engine.url.render_as_string(hide_password=False),
                          at) as killer:
        answer = head.post(f"/tasks/{task_id}", data={"action": "approve"})
    assert killer.fired, f"no statement matched {at!r}: the approval path changed"
    page = answer.get_data(as_text=True)
    assert answer.status_code in (500, 503), answer.status_code
    assert "请稍后再试" in page and "Traceback" not in page and "psycopg" not in page
    assert written(instance_id) == before  # nothing of the step was kept
    # The next request finds a working connection and the step goes through.
    assert head.get(f"/tasks/{task_id}").status_code == 200
    assert head.post(f"/tasks/{task_id}", data={"action": "approve"}).status_code == 302
    after = written(instance_id)
    assert after[0] > before[0] and after[1] != before[1]


def test_connection_dropped_mid_api_call_answers_in_the_error_shape(postgres, client, demo):
    instance_id = submit_wish(sign_in(client, "rider1"))
    task_id = task_id_of(instance_id)
    token = client.post("/api/v1/tokens", json={"username": "station_head",
                                                "password": PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    before = written(instance_id)
    with ConnectionKiller(db.engine, db.engine.url.render_as_string(hide_password=False),
                          "INSERT INTO HISTORY") as killer:
        answer = client.post(f"/api/v1/tasks/{task_id}/complete", json={"action": "approve"},
                             headers=headers)
    assert killer.fired
    assert answer.status_code in (500, 503)
    error = answer.get_json()["error"]
    assert error["code"] and error["message"] and "psycopg" not in error["message"]
    assert written(instance_id) == before
    again = client.post(f"/api/v1/tasks/{task_id}/complete", json={"action": "approve"},
                        headers=headers)
    assert again.status_code == 200, again.get_json()


# ------------------------------------------------------------------ Redis goes away

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own, which the test can stop and start again."""

    def __init__(self, tmp_path: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            require_service("redis-server is not installed (apt-get install redis-server)")
        self.binary, self.port, self.dir = binary, _free_port(), tmp_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        conn = redis.Redis.from_url(self.url)
        for _ in range(200):
            try:
                conn.ping()
                return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def silent_redis(monkeypatch):
    """A Redis address that takes connections (the kernel completes the handshake) and
    never answers: a hung Redis, or for a client without time-outs as long a wait as a
    host that vanished.  The time-outs are shortened to keep the test quick."""
    from webapp import extensions, queue

    monkeypatch.setattr(queue, "REDIS_TIMEOUT", 1)
    monkeypatch.setattr(extensions, "LIMITS_REDIS_TIMEOUT", 1)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"


@pytest.fixture
def app_config(app_config, request, tmp_path):
    if "silent_redis" in request.fixturenames:
        url = request.getfixturevalue("silent_redis")
        return {**app_config, "REDIS_URL": url, "RATELIMIT_STORAGE_URI": url,
                "MAIL_OUTBOX": str(tmp_path / "outbox")}
    if "private_redis" not in request.fixturenames:
        return app_config
    server = request.getfixturevalue("private_redis")
    # As in production: the queue and the sign-in limits both live in this Redis.
    return {**app_config, "REDIS_URL": server.url, "RATELIMIT_STORAGE_URI": server.url,
            "MAIL_OUTBOX": str(tmp_path / "outbox")}


def _run_jobs(app) -> None:
    """What `flask worker` does, in this process, until the queue is empty."""
    from rq import SimpleWorker

    from webapp.queue import runtime

    rt = runtime(app)
    SimpleWorker([rt.queue()], connection=rt.connection).work(burst=True,
                                                              logging_level="WARNING")


def test_redis_down_requests_succeed_and_mail_goes_out_once_it_is_back(
        private_redis, app, client, demo, tmp_path):
    from webapp import jobs

    private_redis.stop()
    rider = sign_in(client, "rider1")  # the sign-in limits live in Redis too
    instance_id = submit_wish(rider)
    head = sign_in(client, "station_head")
    assert head.get("/inbox").status_code == 200
    assert head.post(f"/tasks/{task_id_of(instance_id)}",
                     data={"action": "approve"}).status_code == 302
    assert sign_in(client, "rider1").get(f"/instances/{instance_id}").status_code == 200
    db.session.rollback()
    waiting = db.session.scalars(select(Delivery).where(Delivery.status == "pending")).all()
    assert waiting, "the steps made e-mails for the outbox"
    assert all(d.attempts == 0 for d in waiting)

    private_redis.start()
    now_due = [d.id for d in waiting if d.due_at <= jobs.datetime.now(jobs.timezone.utc)]
    assert now_due
    jobs.sweep()
    _run_jobs(app)
    jobs.sweep()  # a second sweep and run must not send anything again
    _run_jobs(app)
    db.session.rollback()
    outbox = Path(app.config["MAIL_OUTBOX"])
    for delivery_id in now_due:
        delivery = db.session.get(Delivery, delivery_id)
        assert delivery.status == "sent" and delivery.attempts == 1, (delivery_id,
                                                                     delivery.status)
        assert (outbox / f"delivery-{delivery_id}.eml").exists()
    assert len(list(outbox.glob("*.eml"))) == len(now_due)


def test_worker_killed_mid_send_on_a_private_redis_still_delivers_once(
        private_redis, app, demo, tmp_path, app_config):
    """The real `flask worker` SIGKILLed while the mail server is slow (the test on the
    shared Redis is tests/webapp/test_outbox_worker.py; this one needs only the binary)."""
    from tests.webapp.test_outbox_worker import _kill_hard, _wait, _worker
    from tests.webapp.test_workflow_service import wish_data
    from webapp.services import workflow as wf

    wf.start_instance("micro_wish", demo["rider1"], wish_data())
    db.session.commit()
    delivery_id = db.session.scalar(select(Delivery.id).where(Delivery.digest.is_(False)))
    first = _worker(app_config, tmp_path)
    try:
        assert _wait(lambda: db.session.get(Delivery, delivery_id).status == "sending", 60), (
            (tmp_path / "worker.log").read_text()[-3000:])
    finally:
        _kill_hard(first)
    outbox = Path(app_config["MAIL_OUTBOX"])
    assert not list(outbox.glob("*.eml"))
    second = _worker(app_config, tmp_path)
    try:
        assert _wait(lambda: db.session.get(Delivery, delivery_id).status == "sent", 110), (
            (tmp_path / "worker.log").read_text()[-3000:])
    finally:
        _kill_hard(second)
    assert [p.name for p in outbox.glob("*.eml")] == [f"delivery-{delivery_id}.eml"]
    db.session.rollback()
    assert db.session.get(Delivery, delivery_id).attempts == 2


def test_a_redis_that_hangs_slows_requests_by_seconds_and_loses_nothing(
        silent_redis, app, client, demo, caplog):
    """Redis accepts connections and never answers: every page still answers (after the
    time-outs, not never), the steps are saved, their e-mails wait in the outbox, and
    once one enqueue has failed the next requests do not wait on Redis again."""
    import logging
    import signal

    def hung(signum, frame):
        raise AssertionError("a request waited on the silent Redis for a minute")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        instance_id = submit_wish(sign_in(client, "rider1"))  # the head is e-mailed
        with caplog.at_level(logging.INFO, logger=app.logger.name):
            second = submit_wish(sign_in(client, "courier1"))
        head = sign_in(client, "station_head")
        assert head.post(f"/tasks/{task_id_of(instance_id)}",
                         data={"action": "approve"}).status_code == 302
        assert sign_in(client, "rider1").get(f"/instances/{instance_id}").status_code == 200
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    # The second request's e-mail, right after an enqueue failed, did not try Redis.
    assert "deliver left to the sweeper" in caplog.text
    db.session.rollback()
    steps = dict(db.session.execute(select(Task.instance_id, Task.step).where(
        Task.instance_id.in_([instance_id, second]), Task.status == "open")).all())
    assert steps[second] == "verify" and steps.get(instance_id) != "verify"  # approved
    pending = db.session.scalars(select(Delivery).where(Delivery.status == "pending")).all()
    assert len(pending) >= 2  # both e-mails wait in the outbox for the sweeper
