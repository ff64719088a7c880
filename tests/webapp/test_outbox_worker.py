"""A real ``flask worker`` on a real Redis, SIGKILLed in the middle of sending: the
message still arrives, exactly once, well within two minutes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.webapp.test_workflow_service import demo, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.models import Delivery
from webapp.services import workflow as wf


@pytest.fixture
def app_config(app_config, tmp_path, redis_url):
    if not redis_url:
        pytest.skip("needs TEST_REDIS_URL: separate worker processes share a real Redis")
    return {**app_config, "REDIS_URL": redis_url, "MAIL_OUTBOX": str(tmp_path / "outbox")}


def _worker(app_config, tmp_path) -> subprocess.Popen:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "UNIONFLOW_ENV": "development",
           "REDIS_URL": app_config["REDIS_URL"],
           "DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
           "UNIONFLOW_INSTANCE_PATH": str(tmp_path / "worker-instance"),
           "UNIONFLOW_MAIL_OUTBOX": app_config["MAIL_OUTBOX"],
           "UNIONFLOW_MAIL_FILE_DELAY": "3",  # a slow mail server: time to kill mid-send
           "UNIONFLOW_DELIVERY_STALE_SECONDS": "4", "UNIONFLOW_SWEEP_INTERVAL": "1"}
    with open(tmp_path / "worker.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "webapp", "worker"],
                                env=env, cwd=Path(__file__).resolve().parents[2],
                                stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _descendants(pid: int) -> list[int]:
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill_hard(process: subprocess.Popen) -> None:
    for pid in [process.pid] + _descendants(process.pid):  # the worker and its work horse
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=10)


def _wait(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()  # a new snapshot: see what the worker committed
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_worker_killed_mid_delivery_the_message_arrives_exactly_once(app, demo, tmp_path,
                                                                     app_config):
    wf.start_instance("micro_wish", demo["rider1"], wish_data())
    db.session.commit()
    delivery_id = db.session.scalar(select(Delivery.id))
    first = _worker(app_config, tmp_path)
    try:
        assert _wait(lambda: db.session.get(Delivery, delivery_id).status == "sending", 60), (
            first.poll(), (tmp_path / "worker.log").read_text()[-3000:])
        _kill_hard(first)  # SIGKILL while the mail is being sent
    finally:
        if first.poll() is None:
            _kill_hard(first)
    outbox = Path(app_config["MAIL_OUTBOX"])
    assert not list(outbox.glob("*.eml"))  # it died before the message was out
    started = time.monotonic()
    second = _worker(app_config, tmp_path)
    try:
        assert _wait(lambda: db.session.get(Delivery, delivery_id).status == "sent", 110)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=15)
        except subprocess.TimeoutExpired:
            _kill_hard(second)
    assert time.monotonic() - started < 120
    time.sleep(4)  # give any duplicate a chance to show itself
    assert [p.name for p in outbox.glob("*.eml")] == [f"delivery-{delivery_id}.eml"]
    db.session.rollback()
    assert db.session.get(Delivery, delivery_id).attempts == 2, (tmp_path / "worker.log").read_text()[-6000:]
