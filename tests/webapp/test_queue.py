"""The queue: jobs run off the request path, only after the transaction commits."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from webapp import jobs
from webapp.extensions import db
from webapp.queue import enqueue_after_commit, runtime
from tests.webapp.test_workflow_service import demo  # noqa: F401


def _worker_env(redis_url, app_config, tmp_path) -> dict:
    """The environment of a separate `flask worker` on this test's database and Redis."""
    return {"REDIS_URL": redis_url, "DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
            "UNIONFLOW_ENV": "development", "UNIONFLOW_INSTANCE_PATH": str(tmp_path),
            "PATH": "/usr/bin:/bin"}


def _wait_for(conn, key, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if conn.get(key):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def app_config(app_config, redis_url):
    return {**app_config, "REDIS_URL": redis_url, "EMBEDDED_WORKER": True}


def test_job_runs_only_after_commit(app, redis_url):
    if redis_url:
        pytest.skip("the embedded worker thread is the subject here")
    rt = runtime(app)
    assert rt.embedded
    enqueue_after_commit(jobs.ping, "committed")
    assert rt.queue().count == 0  # nothing before the commit
    db.session.commit()
    assert _wait_for(rt.connection, "unionflow:ping:committed")


def test_rolled_back_transaction_enqueues_nothing(app):
    rt = runtime(app)
    enqueue_after_commit(jobs.ping, "rolled-back")
    db.session.rollback()
    db.session.commit()
    time.sleep(0.3)
    assert rt.queue().count == 0
    assert rt.connection.get("unionflow:ping:rolled-back") is None


def test_queue_check_without_redis_says_there_is_no_worker_to_check(app, runner, redis_url):
    """It used to answer its own ping through the in-process queue: "a worker answered"
    while no worker was running anywhere."""
    if redis_url:
        pytest.skip("covered by the separate-worker test on real Redis")
    result = runner.invoke(args=["queue-check", "--timeout", "10"])
    assert result.exit_code == 1
    assert "REDIS_URL is not set" in result.output and "answered" not in result.output


def test_separate_worker_process_on_real_redis(app, runner, redis_url, app_config, tmp_path):
    if not redis_url:
        pytest.skip("needs TEST_REDIS_URL: a separate worker process talks to a real Redis")
    rt = runtime(app)
    assert not rt.embedded
    enqueue_after_commit(jobs.ping, "from-worker")
    db.session.commit()
    assert rt.queue().count == 1
    env = _worker_env(redis_url, app_config, tmp_path)
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "webapp", "worker", "--burst"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert rt.connection.get("unionflow:ping:from-worker")


def test_worker_command_refuses_without_redis(app, runner, redis_url):
    if redis_url:
        pytest.skip("REDIS_URL is set in this run")
    result = runner.invoke(args=["worker", "--burst"])
    assert result.exit_code != 0 and "REDIS_URL" in result.output


@pytest.mark.parametrize("fork", [False, True])
def test_worker_runs_jobs_in_its_own_process_unless_told_to_fork(app, redis_url, app_config,
                                                                 tmp_path, fork):
    """By default a job runs inside `flask worker` (no ~100 MB fork per job); --fork
    gives each job its own work horse."""
    if not redis_url:
        pytest.skip("needs TEST_REDIS_URL: a separate worker process talks to a real Redis")
    import os

    job = runtime(app).queue().enqueue(os.getpid)
    env = _worker_env(redis_url, app_config, tmp_path)
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "webapp", "worker", "--burst",
         *(["--fork"] if fork else [])], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    output, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, output
    job.refresh()
    assert job.is_finished, output
    ran_in = job.return_value()
    assert (ran_in != worker.pid) if fork else (ran_in == worker.pid)


def test_a_burst_worker_fires_the_timers_that_are_due(app, demo, redis_url, app_config,
                                                      tmp_path):
    """Timers are rows: the real `flask worker` sweeps them (here once, with --burst)."""
    if not redis_url:
        pytest.skip("needs TEST_REDIS_URL: a separate worker process talks to a real Redis")
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import select

    from tests.webapp.test_workflow_service import wish_data
    from webapp.models import Timer
    from webapp.services import workflow as wf

    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data())
    db.session.commit()
    timer = db.session.scalar(select(Timer).where(Timer.instance_id == instance.id,
                                                  Timer.status == "pending"))
    timer.fire_at = datetime.now(timezone.utc) - timedelta(minutes=1)
    db.session.commit()
    env = _worker_env(redis_url, app_config, tmp_path)
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "webapp", "worker", "--burst"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    db.session.expire_all()
    assert db.session.get(Timer, timer.id).status == "fired"
