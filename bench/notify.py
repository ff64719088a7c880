"""Notification benchmark: enqueue-to-delivered latency with real Redis and one, then two
RQ workers (``flask worker``), and one event fanned out to 1,000 recipients.

    python bench/notify.py --db postgresql://postgres@127.0.0.1:5432/unionflow_bench_engine \
        --redis redis://127.0.0.1:6379/10

What is measured is the real path: a workflow step (``start_instance`` of
``bench/definitions/bench_chain.yaml``) notifies the first approver in its transaction;
the outbox row is made there, its delivery job is queued to Redis after the commit; a
worker claims the row, writes the e-mail (the ``file`` mail backend) and marks it sent.
Latency = ``sent_at`` − the step's time (``created_at``, taken before the commit), so it
covers the commit, Redis, the worker picking the job up, the send and the final update.

* latency: ``--notifications`` steps (default 500) at ``--rate`` per second (default 20),
  each with one e-mail recipient; p50/p95/max per worker count.
* fan-out: one step whose approval goes to 1,000 unit administrators (all with e-mail):
  1,000 in-app notifications and 1,000 outbox rows in one transaction, delivered in
  jobs of ``outbox.BATCH``, each claiming and marking ``DELIVERY_GROUP`` rows at a time;
  time from the step until the last is sent.

The database is emptied and rebuilt, and the Redis database flushed: give it its own.
Prints figures and conditions; asserts nothing about time.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.engine_setup import (CHAIN_DEFINITION, ROOT, chain_org, conditions,  # noqa: E402
                                fresh_database, make_app, make_workers, percentile,
                                service_env)

TARGET_P95_S = 1.0
TARGET_FANOUT_S = 5.0
FLASK = str(Path(sys.executable).with_name("flask"))


def start_workers(count: int, env: dict, log_dir: Path) -> list[subprocess.Popen]:
    procs = []
    for i in range(count):
        log = open(log_dir / f"worker-{i}.log", "wb")
        procs.append(subprocess.Popen([FLASK, "--app", "webapp", "worker"], cwd=ROOT, env=env,
                                      stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))
    return procs


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:  # only the process groups started above
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for_workers(app, count: int, timeout: float = 60.0) -> None:
    """Until ``count`` workers are registered with Redis and one has answered a ping."""
    import secrets

    from rq import Worker

    from webapp import jobs
    from webapp.queue import enqueue, runtime

    with app.app_context():
        rt = runtime()
        deadline = time.monotonic() + timeout
        while len(Worker.all(connection=rt.connection)) < count:
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start (see their logs)")
            time.sleep(0.2)
        token = secrets.token_hex(8)
        enqueue(jobs.ping, token)
        while not rt.connection.get(f"unionflow:ping:{token}"):
            if time.monotonic() > deadline:
                raise RuntimeError("no worker answered a ping")
            time.sleep(0.05)


def _start(app, applicant_id: int) -> tuple[int, float]:
    """One workflow step that notifies; the instance id and the time of its commit."""
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services.workflow import start_instance

    with app.app_context():
        applicant = db.session.get(User, applicant_id)
        instance = start_instance("bench_chain", applicant, {"title": "通知基准"})
        instance_id = instance.id
        db.session.commit()
        committed = time.monotonic()
        db.session.remove()
    return instance_id, committed


def _delivered(app, instance_ids: list[int]):
    """(sent, total, [latency s of each sent one], last sent_at − first created_at)."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Delivery, Notification

    with app.app_context():
        rows = db.session.execute(
            select(Delivery.status, Delivery.created_at, Delivery.sent_at)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Notification.instance_id.in_(instance_ids))).all()
        db.session.remove()
    sent = [r for r in rows if r.status == "sent"]
    latencies = [(r.sent_at - r.created_at).total_seconds() for r in sent]
    span = ((max(r.sent_at for r in sent) - min(r.created_at for r in rows)).total_seconds()
            if sent else None)
    return len(sent), len(rows), latencies, span


def wait_delivered(app, instance_ids: list[int], expected: int, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        sent, total, latencies, span = _delivered(app, instance_ids)
        if sent >= expected or time.monotonic() > deadline:
            return sent, total, latencies, span
        time.sleep(0.1)


def latency_run(app, applicant_id: int, count: int, rate: float) -> dict:
    ids = []
    interval = 1.0 / rate
    began = time.monotonic()
    for i in range(count):
        ids.append(_start(app, applicant_id)[0])
        pause = began + (i + 1) * interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    produced = time.monotonic() - began
    sent, total, latencies, _ = wait_delivered(app, ids, count, timeout=120)
    return {"sent": sent, "total": total, "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95), "max": max(latencies, default=0.0),
            "rate": count / produced}


def fanout_run(app, applicant_id: int, recipients: int) -> dict:
    began = time.monotonic()
    instance_id, committed = _start(app, applicant_id)
    step_s = committed - began
    sent, total, latencies, span = wait_delivered(app, [instance_id], recipients, timeout=180)
    return {"sent": sent, "total": total, "step_s": step_s,
            "all_delivered_s": span, "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95)}


def run(db_url: str, redis_url: str, notifications: int = 500, rate: float = 20.0,
        recipients: int = 1000, worker_counts=(1, 2), group: int | None = None) -> dict:
    import redis

    from webapp.extensions import db
    from webapp.services.workflow import publish_file

    url = fresh_database(db_url)
    redis.Redis.from_url(redis_url).flushdb()
    work = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    mail_dir = work / "outbox"
    from webapp.services import outbox

    group = group or outbox.GROUP
    app = make_app(url, str(work / "instance"), REDIS_URL=redis_url, MAIL_BACKEND="file",
                   MAIL_OUTBOX=str(mail_dir), DELIVERY_GROUP=group)
    with app.app_context():
        units, approvers = chain_org()
        for user in approvers:  # the first approver hears of each new request by e-mail
            user.email = f"{user.username}@bench.local"
        db.session.commit()
        applicant = make_workers(units["company"], 1, prefix="applicant")[0]
        from webapp.database import write_lock
        from webapp.services.org import create_unit

        with write_lock():
            fan_unit = create_unit("b-fan", "千人单位", "enterprise",
                                   db.session.merge(units["district"]))
        db.session.commit()
        make_workers(fan_unit, recipients, prefix="fan-admin", email=True, role="unit_admin")
        fan_applicant = make_workers(fan_unit, 1, prefix="fan-applicant")[0]
        publish_file(CHAIN_DEFINITION)
        db.session.commit()
        db.session.remove()
    env = service_env(url, str(work / "worker-instance"), MAIL_BACKEND="file",
                      MAIL_OUTBOX=str(mail_dir), DELIVERY_GROUP=group)
    env["REDIS_URL"] = redis_url
    results = {}
    for count in worker_counts:
        procs = start_workers(count, env, work)
        try:
            wait_for_workers(app, count)
            _start(app, applicant)  # warm the workers up (first job imports the app)
            time.sleep(1.0)
            lat = latency_run(app, applicant, notifications, rate)
            fan = fanout_run(app, fan_applicant, recipients)
        finally:
            stop_workers(procs)
        results[count] = {"latency": lat, "fanout": fan,
                          "conditions": conditions(url, workers=count, redis=redis_url,
                                                   group=group,
                                                   notifications=notifications,
                                                   rate=f"{rate:g}/s",
                                                   recipients=recipients)}
    with app.app_context():
        db.engine.dispose()
    report(results)
    return results


def report(results: dict) -> None:
    for count, r in results.items():
        lat, fan = r["latency"], r["fanout"]
        print(f"Notifications, {count} worker(s) {r['conditions']}")
        print(f"  latency: {lat['sent']}/{lat['total']} sent at {lat['rate']:.1f} steps/s; "
              f"p50 {lat['p50'] * 1000:.0f} ms, p95 {lat['p95'] * 1000:.0f} ms, "
              f"max {lat['max'] * 1000:.0f} ms  (target p95 <= {TARGET_P95_S:g} s: "
              f"{'met' if lat['p95'] <= TARGET_P95_S else 'MISSED'})")
        span = fan["all_delivered_s"]
        print(f"  fan-out: {fan['sent']}/{fan['total']} sent; the step took "
              f"{fan['step_s'] * 1000:.0f} ms; all delivered "
              f"{span if span is None else f'{span:.2f}'} s after the step "
              f"(p50 {fan['p50']:.2f} s, p95 {fan['p95']:.2f} s)  "
              f"(target <= {TARGET_FANOUT_S:g} s: "
              f"{'met' if span is not None and span <= TARGET_FANOUT_S else 'MISSED'})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="PostgreSQL URL (emptied first!)")
    parser.add_argument("--redis", required=True, help="Redis URL (flushed first!)")
    parser.add_argument("--notifications", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--group", type=int, default=None,
                        help="DELIVERY_GROUP for the workers (default: the app's, 20)")
    args = parser.parse_args(argv)
    run(args.db, args.redis, args.notifications, args.rate, args.recipients,
        [int(n) for n in args.workers.split(",")], args.group)
    return 0


if __name__ == "__main__":
    sys.exit(main())
