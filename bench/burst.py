"""Burst benchmark: 200 people register at the same moment for a 30-seat course, through
the JSON API of a real gunicorn on PostgreSQL.

    python bench/burst.py --db postgresql://postgres@127.0.0.1:5432/unionflow_bench_engine \
        --redis redis://127.0.0.1:6379/10

The script empties the database, builds the union tree, publishes the shipped
``training_registration`` process, opens a course with ``--seats`` places, makes
``--people`` workers with a bearer token each (issued by the token service, as
``POST /api/v1/tokens`` would), starts gunicorn (``--workers`` processes × ``--threads``
threads, production settings, Redis for the queue and the rate limits), and then
releases ``--people`` client threads together, each sending one
``POST /api/v1/processes/training_registration/instances``.

It prints the time until everyone had an answer, the answers by HTTP status and by
what they said (a place, or the waiting list), and checks the database: exactly
``--seats`` places granted, everyone else waitlisted in order.  It asserts nothing about
time.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.engine_setup import (ROOT, conditions, fresh_database, make_app,  # noqa: E402
                                make_workers, percentile, service_env)

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
PROCESS = "training_registration"


def id_card(first17: str) -> str:
    """A mainland ID number with its check digit."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights))
    return first17 + "10X98765432"[total % 11]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(app, people: int, seats: int) -> tuple[int, list[str]]:
    """The course and the people with their tokens: (course id, raw tokens)."""
    from webapp.database import write_lock
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import tokens
    from webapp.services.activities import CHINA, create_course
    from webapp.services.org import create_unit
    from webapp.services.workflow import DEFINITIONS_DIR, publish_file

    with app.app_context():
        with write_lock():
            city = create_unit("b-city", "基准市", "city")
            district = create_unit("b-dist", "基准区", "district", city)
            street = create_unit("b-street", "基准街道", "street", district)
            company = create_unit("b-co", "基准快递公司", "enterprise", street)
        db.session.commit()
        publish_file(DEFINITIONS_DIR / f"{PROCESS}.yaml")
        db.session.commit()
        today = datetime.now(CHINA).date()
        first = datetime.combine(today + timedelta(days=10), datetime.min.time(), tzinfo=CHINA)
        with write_lock():
            course = create_course(
                title="叉车操作实训（抢报）", kind="叉车", unit=db.session.merge(street),
                venue="", capacity=seats, requires_approval=False,
                opens_on=today - timedelta(days=1), closes_on=today + timedelta(days=5),
                starts_on=today + timedelta(days=10), ends_on=today + timedelta(days=11),
                schedule=[(first + timedelta(hours=9), first + timedelta(hours=12), "理论"),
                          (first + timedelta(days=1, hours=9),
                           first + timedelta(days=1, hours=12), "实操")])
        course_id = course.id
        db.session.commit()
        ids = make_workers(db.session.merge(company), people, prefix="rider")
        raws = []
        with write_lock():
            for user_id in ids:
                raws.append(tokens.issue(db.session.get(User, user_id))[0])
        db.session.commit()
        db.session.remove()
    return course_id, raws


def start_gunicorn(env: dict, port: int, workers: int, threads: int, log: Path):
    proc = subprocess.Popen(
        [GUNICORN, "-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}",
         "--backlog", "2048", "--timeout", "120", "wsgi:app"],
        cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log}")
        try:
            requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2)
            return proc
        except requests.RequestException:
            time.sleep(0.3)
    stop(proc)
    raise RuntimeError(f"gunicorn did not answer; see {log}")


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the group started above, and only it
        proc.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def fire(port: int, course_id: int, raw_tokens: list[str]) -> tuple[list[dict], float]:
    """All clients at once; each result: status, what the answer said, seconds taken."""
    import requests

    url = f"http://127.0.0.1:{port}/api/v1/processes/{PROCESS}/instances"
    barrier = threading.Barrier(len(raw_tokens) + 1)
    results: list[dict] = [None] * len(raw_tokens)

    def client(i: int, raw: str):
        session = requests.Session()
        body = {"data": {"course": course_id, "real_name": f"学员{i}", "occupation": "courier",
                         "occupation_confirmed": True,
                         "phone": f"139{i:08d}", "id_card": id_card(f"50010319920611{i:03d}")}}
        headers = {"Authorization": f"Bearer {raw}", "Accept-Language": "zh-CN"}
        barrier.wait()
        began = time.monotonic()
        try:
            r = session.post(url, json=body, headers=headers, timeout=300)
            answer = r.json() if r.headers.get("Content-Type", "").startswith(
                "application/json") else {"text": r.text[:200]}
            results[i] = {"status": r.status_code, "answer": answer,
                          "seconds": time.monotonic() - began}
        except requests.RequestException as exc:
            results[i] = {"status": "error", "answer": {"error": str(exc)},
                          "seconds": time.monotonic() - began}
        finally:
            session.close()

    threads = [threading.Thread(target=client, args=(i, raw), daemon=True)
               for i, raw in enumerate(raw_tokens)]
    for t in threads:
        t.start()
    barrier.wait()
    released = time.monotonic()
    for t in threads:
        t.join(timeout=600)
    return results, time.monotonic() - released


def what_it_said(result: dict) -> str:
    answer = result["answer"]
    if result["status"] != 201:
        error = answer.get("error") if isinstance(answer, dict) else None
        return f"{result['status']} {json.dumps(error or answer, ensure_ascii=False)[:120]}"
    last = (answer.get("history") or [{}])[-1]
    return f"201 state={answer.get('state')} last history action={last.get('action')}"


def check_database(app, course_id: int) -> dict:
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.models import CapacityResource, Instance, Notification, Reservation

    with app.app_context():
        reservations = dict(db.session.execute(
            select(Reservation.status, func.count()).where(
                Reservation.resource_key == f"course:{course_id}")
            .group_by(Reservation.status)).all())
        seqs = sorted(db.session.scalars(select(Reservation.seq).where(
            Reservation.resource_key == f"course:{course_id}")))
        granted = db.session.get(CapacityResource, f"course:{course_id}").granted
        statuses = dict(db.session.execute(
            select(Instance.status, func.count()).where(Instance.process_key == PROCESS)
            .group_by(Instance.status)).all())
        told = dict(db.session.execute(
            select(Notification.kind, func.count()).group_by(Notification.kind)).all())
        db.session.remove()
    return {"reservations": reservations, "capacity_granted": granted,
            "instances": statuses, "notifications": told,
            "seq_ok": seqs == list(range(1, len(seqs) + 1))}


def run(db_url: str, redis_url: str | None, people: int = 200, seats: int = 30,
        workers: int = 4, threads: int = 4) -> dict:
    from webapp.extensions import db

    url = fresh_database(db_url)
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushdb()
    work = Path(tempfile.mkdtemp(prefix="bench-burst-"))
    app = make_app(url, str(work / "instance"))
    course_id, raw_tokens = prepare(app, people, seats)
    env = service_env(url, str(work / "server-instance"))
    if redis_url:
        env["REDIS_URL"] = redis_url
    port = free_port()
    server = start_gunicorn(env, port, workers, threads, work / "gunicorn.log")
    try:
        results, wall = fire(port, course_id, raw_tokens)
    finally:
        stop(server)
    found = check_database(app, course_id)
    with app.app_context():
        cond = conditions(url, people=people, seats=seats,
                          gunicorn=f"{workers} workers x {threads} threads",
                          redis=redis_url or "none (embedded queue)")
        db.engine.dispose()
    report(results, wall, found, seats, people, cond)
    return {"results": results, "wall": wall, "database": found}


def report(results, wall, found, seats, people, cond) -> None:
    print(f"Burst: {people} registrations at once for {seats} seats {cond}")
    seconds = [r["seconds"] for r in results if r]
    print(f"  everyone answered in {wall:.2f} s (per request: p50 "
          f"{percentile(seconds, 50):.2f} s, p95 {percentile(seconds, 95):.2f} s, "
          f"max {max(seconds, default=0):.2f} s)")
    by_answer = collections.Counter(what_it_said(r) for r in results if r)
    for answer, n in by_answer.most_common():
        print(f"  {n:4d} × {answer}")
    granted = found["reservations"].get("granted", 0)
    waiting = found["reservations"].get("waitlisted", 0)
    ok = granted == seats and found["capacity_granted"] == seats and \
        waiting == people - seats and found["seq_ok"]
    print(f"  database: {granted} places granted, {waiting} waitlisted, capacity row says "
          f"{found['capacity_granted']}; queue numbers 1…{granted + waiting} without gaps: "
          f"{found['seq_ok']}; instances {found['instances']}; notifications "
          f"{found['notifications']}")
    print(f"  exactly {seats} enrolled, the rest on the waiting list: {'yes' if ok else 'NO'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="PostgreSQL URL (emptied first!)")
    parser.add_argument("--redis", default=None, help="Redis URL (flushed first!)")
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--seats", type=int, default=30)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    run(args.db, args.redis, args.people, args.seats, args.workers, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
