"""HTTP throughput of starting and approving requests, beside a bare Flask floor.

    python bench/throughput.py                       # PostgreSQL (DATABASE_URL) + Redis (REDIS_URL)
    python bench/throughput.py --workers 2 --seconds 15 --connections 4

Needs a database filled by ``bench/generate.py`` and ``wrk`` (``apt-get install wrk``).
It starts, on loopback only:
  1. gunicorn serving bench/bare_app.py: ``/hello`` and ``/transition/<id>`` (UPDATE +
     INSERT + commit + RQ enqueue) — the floor;
  2. gunicorn serving UnionFlow (wsgi.py, production settings) and one RQ worker
     (``flask worker``) that sends the notifications the requests cause;
then runs wrk (bounded: ``--seconds`` each) for: POST /api/v1/processes/micro_wish/instances
as distinct workers (one wish each), and POST /api/v1/tasks/<id>/complete {"action":
"approve"} by the station heads the new wishes went to.  Peak RSS of the web workers and
the RQ worker (and its work horses) is sampled during the UnionFlow runs.  Every figure is
printed with its conditions.  Rows added by the bare endpoint are deleted afterwards.

``--database sqlite:///…`` (a file made by ``generate.py --scale small``) measures the
approval path on SQLite, where ``--worker-class gthread --threads 4`` shows the writers
waiting on each other; the bare floor is skipped there.
"""
from __future__ import annotations

import argparse
import hashlib
import random
import secrets
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (BIN, RssSampler, app_env, conditions, data_size, fmt,  # noqa: E402
                          free_port, gunicorn, pg_url, process, redis_url, wait_for, wrk,
                          write_lines)


def _engine(url: str):
    from sqlalchemy import create_engine

    from webapp.config import normalise_database_url

    return create_engine(normalise_database_url(url))


def issue_tokens(conn, user_ids) -> dict[int, str]:
    """Bearer tokens straight into the table (what /api/v1/tokens stores: the digest)."""
    from sqlalchemy import text

    now = datetime.now(timezone.utc)
    if conn.dialect.name == "sqlite":  # stored as the app's UTCDateTime stores it there
        now = now.replace(tzinfo=None)
    raw = {uid: "uf_" + secrets.token_urlsafe(32) for uid in set(user_ids)}
    conn.execute(text("INSERT INTO api_tokens (user_id, digest, created_at, expires_at) "
                      "VALUES (:u, :d, :c, :e)"),
                 [{"u": uid, "d": hashlib.sha256(t.encode()).hexdigest(), "c": now,
                   "e": now + timedelta(days=1)} for uid, t in raw.items()])
    return raw


def start_requests(engine, n: int, rng: random.Random) -> list:
    """``n`` workers with no wish open (running or returned to them: one at a time), each
    starting one at an open station of their street (a closed one is
    not among the form's choices)."""
    from sqlalchemy import text

    with engine.begin() as conn:
        rows = conn.execute(text(
            "SELECT u.id, e.parent_id FROM users u JOIN memberships m ON m.user_id = u.id "
            "AND m.role = 'worker' JOIN org_units e ON e.id = u.unit_id "
            "WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.applicant_id = u.id "
            "AND i.process_key = 'micro_wish' AND i.closed_at IS NULL) "
            "ORDER BY u.id LIMIT :n"), {"n": n * 3}).all()
        rows = rng.sample(rows, min(n, len(rows)))
        stations = {}
        for unit_id, parent_id in conn.execute(text(
                "SELECT o.id, o.parent_id FROM org_units o JOIN stations s ON s.unit_id = o.id "
                "WHERE o.kind = 'station' AND o.active AND s.is_open")):
            stations.setdefault(parent_id, []).append(unit_id)
        tokens = issue_tokens(conn, [uid for uid, _ in rows])
    out = []
    for uid, street in rows:
        if street not in stations:
            continue
        out.append(("POST", "/api/v1/processes/micro_wish/instances", tokens[uid], {"data": {
            "title": "理发服务", "category": "service", "story": "每天跑单到很晚，想在驿站理一次发。",
            "station": rng.choice(stations[street]), "contact_name": "张师傅",
            "phone": "13800138000"}}))
    return out


def approve_requests(engine, rng: random.Random) -> list:
    """Every open verify task of a wish, approved by the station head it waits for."""
    from sqlalchemy import text

    with engine.begin() as conn:
        rows = conn.execute(text(
            "SELECT t.id, MIN(a.user_id) FROM tasks t JOIN instances i ON i.id = t.instance_id "
            "JOIN task_assignees a ON a.task_id = t.id WHERE i.process_key = 'micro_wish' "
            "AND t.step = 'verify' AND t.status = 'open' GROUP BY t.id")).all()
        tokens = issue_tokens(conn, [uid for _, uid in rows])
    out = [("POST", f"/api/v1/tasks/{tid}/complete", tokens[uid], {"action": "approve"})
           for tid, uid in rows]
    rng.shuffle(out)
    return out


def bare_floor(url: str, redis: str, args, work: Path) -> dict:
    from sqlalchemy import text

    from webapp.config import normalise_database_url

    engine = _engine(url)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(text(
            "SELECT id FROM instances WHERE status = 'running' ORDER BY id LIMIT 5000"))]
    hello, transition = work / "hello.txt", work / "transition.txt"
    write_lines(hello, [("GET", "/hello", None, None)])
    write_lines(transition, [("POST", f"/transition/{i}", None, None) for i in ids])
    port = free_port()
    env = app_env(url, None, BARE_DATABASE_URL=normalise_database_url(url),
                  BARE_REDIS_URL=redis)
    out = {}
    try:
        with gunicorn("bench.bare_app:app", port, args.workers, env, work / "bare.log",
                      args.worker_class, args.threads):
            wait_for(port, "/hello")
            out["hello"] = wrk(port, hello, args.seconds, args.connections)
            print(f"bare Flask /hello            {fmt(out['hello'])}", flush=True)
            print("  " + conditions(), flush=True)
            out["transition"] = wrk(port, transition, args.seconds, args.connections)
            print(f"bare UPDATE+INSERT+enqueue   {fmt(out['transition'])}", flush=True)
            print("  " + conditions(), flush=True)
    finally:
        import redis as redis_lib

        with engine.begin() as conn:
            conn.execute(text("DELETE FROM history WHERE seq >= 100000"))
        redis_lib.Redis.from_url(redis).delete("rq:queue:bench-bare")
        engine.dispose()
    return out


def unionflow(url: str, redis: str | None, args, work: Path) -> dict:
    rng = random.Random(args.seed)
    engine = _engine(url)
    starts = work / "start.txt"
    n = write_lines(starts, start_requests(engine, args.start_requests, rng))
    port = free_port()
    env = app_env(url, redis)
    out = {}
    with RssSampler() as rss:
        worker = None
        if redis:
            worker_ctx = process([str(BIN / "flask"), "--app", "webapp", "worker"], env,
                                 work / "rq.log")
            worker = worker_ctx.__enter__()
            rss.watch("rq worker", worker.pid)
        try:
            with gunicorn("wsgi:app", port, args.workers, env, work / "gunicorn.log",
                          args.worker_class, args.threads) as web:
                rss.watch("gunicorn", web.pid)
                wait_for(port, "/api/v1/openapi.json")
                out["start"] = wrk(port, starts, args.seconds, args.connections)
                print(f"UnionFlow start (API)        {fmt(out['start'])}  [{n} distinct workers]",
                      flush=True)
                print("  " + conditions(), flush=True)
                approves = work / "approve.txt"
                m = write_lines(approves, approve_requests(engine, rng))
                out["approve"] = wrk(port, approves, args.seconds, args.connections)
                print(f"UnionFlow approve (API)      {fmt(out['approve'])}  [{m} open tasks]",
                      flush=True)
                print("  " + conditions(), flush=True)
        finally:
            if worker is not None:
                worker_ctx.__exit__(None, None, None)
    out["rss"] = dict(rss.peak)
    print("peak RSS during the UnionFlow runs: " + rss.report(), flush=True)
    engine.dispose()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default=pg_url())
    parser.add_argument("--redis", default=redis_url(), help="'' for the in-process queue")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--start-requests", type=int, default=6000)
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args(argv)
    sqlite = args.database.startswith("sqlite")
    print("bench/throughput.py  " + conditions(
        db=args.database.split("@")[-1], redis=args.redis or "in-process",
        gunicorn=f"{args.workers}×{args.worker_class}"
        + (f"/{args.threads} threads" if args.threads > 1 else ""),
        wrk=f"2 threads, {args.connections} connections, {args.seconds} s"))
    print("data: " + data_size(args.database), flush=True)
    work = Path(tempfile.mkdtemp(prefix="unionflow-http-"))
    results = {}
    if not sqlite and not args.skip_bare:
        results["bare"] = bare_floor(args.database, args.redis, args, work)
    results["app"] = unionflow(args.database, args.redis or None, args, work)
    if "bare" in results:
        floor = results["bare"]["transition"]["rps"]
        approve = results["app"]["approve"]["rps"]
        print(f"approve / bare transition = {approve / floor:.0%} (target ≥ 50 %); "
              f"start / bare transition = {results['app']['start']['rps'] / floor:.0%}")
    print(f"logs in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
