"""Profile API approvals (or starts) in-process with pyinstrument (no server, no load tool).

    python bench/profile_api.py [--repeat 20] [--html out.html] [--sql 10] [--start]
    python bench/profile_api.py --cprofile 40     # the functions with most time of their own
    python bench/profile_api.py --cprofile 40 --cprofile-cpu   # CPU time: database waits left out

Uses DATABASE_URL (a database filled by ``generate.py``; it approves ``--repeat`` of its
wishes waiting for a station head, so the data changes) and REDIS_URL if set (else the
in-process queue, jobs not run).  Each approval is ``POST /api/v1/tasks/<id>/complete``
with the head's bearer token, as ``throughput.py`` sends it, under production settings.
Prints the profile, the time per request and the statements per request.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import app_env, pg_url, print_slowest, timed_statements  # noqa: E402
from bench.throughput import _engine, approve_requests, start_requests  # noqa: E402


def _open_station_requests(url: str, requests: list) -> list:
    from sqlalchemy import text

    with _engine(url).connect() as conn:
        open_ids = set(conn.execute(text("SELECT unit_id FROM stations WHERE is_open")).scalars())
    return [r for r in requests if r[3]["data"]["station"] in open_ids]


def _package(filename: str) -> str:
    """The package a profiled function belongs to: the first directory under
    site-packages or the project, else the standard library or built-ins."""
    path = Path(filename)
    parts = path.parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    root = Path(__file__).resolve().parent.parent
    if path.is_absolute() and path.is_relative_to(root):
        return path.relative_to(root).parts[0]
    return "(built-in)" if filename == "~" else "(standard library)"


def print_packages(stats, requests: int) -> None:
    """Own time and calls per request, summed by package, most first.  The time is as
    cProfile counts it: its own cost per call inflates packages that make many small
    calls, so read the shares and the calls, not the milliseconds."""
    own: dict[str, list[float]] = {}
    for (filename, _line, _name), (_cc, calls, tottime, _ct, _callers) in stats.stats.items():
        entry = own.setdefault(_package(filename), [0.0, 0])
        entry[0] += tottime
        entry[1] += calls
    total = sum(t for t, _ in own.values()) or 1.0
    print(f"{'package':<22} {'profiled ms':>11} {'share':>6} {'calls/request':>14}")
    for name, (tottime, calls) in sorted(own.items(), key=lambda kv: -kv[1][0]):
        print(f"{name:<22} {tottime / requests * 1000:>11.2f} {tottime / total:>6.0%} "
              f"{calls / requests:>14.0f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--html")
    parser.add_argument("--all", action="store_true", help="show library frames too")
    parser.add_argument("--sql", type=int, default=0, help="list the N slowest statements")
    parser.add_argument("--no-profile", action="store_true", help="time only")
    parser.add_argument("--gc", action="store_true",
                        help="with --no-profile: the garbage collector's runs and time, "
                             "by generation, during the measured requests")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.collect() and gc.freeze() after the warm-up")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N",
                        help="cProfile instead of pyinstrument: the N functions with the "
                             "most time of their own")
    parser.add_argument("--cprofile-sort", default="tottime",
                        help="cProfile's order: tottime (default) or cumulative")
    parser.add_argument("--cprofile-only", metavar="REGEX",
                        help="list only functions whose file matches, e.g. 'webapp|workflows'")
    parser.add_argument("--cprofile-cpu", action="store_true",
                        help="cProfile counts CPU time (process_time), not wall time: "
                             "waits for the database drop out")
    parser.add_argument("--cprofile-callers", metavar="REGEX",
                        help="also list who called the functions matching REGEX")
    parser.add_argument("--cprofile-callees", metavar="REGEX",
                        help="also list what the functions matching REGEX called")
    parser.add_argument("--cprofile-packages", action="store_true",
                        help="also sum cProfile's own time and calls by package "
                             "(sqlalchemy, psycopg, flask, webapp…) per request")
    parser.add_argument("--prepared", action="store_true",
                        help="list the statements PostgreSQL kept prepared on the connection")
    parser.add_argument("--start", action="store_true",
                        help="profile starts (a wish by a worker without one) instead")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL") or pg_url()
    env = app_env(url, os.environ.get("REDIS_URL"))
    os.environ.update({k: v for k, v in env.items() if k.startswith(("UNIONFLOW_", "SECRET",
                                                                     "DATABASE_URL"))})
    if "REDIS_URL" not in os.environ:
        os.environ["UNIONFLOW_EMBEDDED_WORKER"] = "false"
    from webapp import create_app

    wanted = args.warmup + args.repeat
    requests = (start_requests(_engine(url), wanted * 2, random.Random(5)) if args.start
                else approve_requests(_engine(url), random.Random(5)))
    if args.start:  # stations picked at random may be closed (422): keep open ones
        requests = _open_station_requests(url, requests)
    requests = requests[:wanted]
    if len(requests) < args.warmup + args.repeat:
        raise SystemExit(f"only {len(requests)} open verify tasks: regenerate the data")
    app = create_app()
    client = app.test_client()

    def send(request):
        _method, path, token, body = request
        r = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        if r.status_code not in (200, 201):
            raise SystemExit(f"{path}: {r.status_code} {r.get_data(as_text=True)[:300]}")

    for request in requests[:args.warmup]:
        send(request)
    statements = timed_statements(app)

    profiler = None
    if args.cprofile:
        import cProfile
        import pstats

        own = cProfile.Profile(time.process_time) if args.cprofile_cpu else cProfile.Profile()
        own.enable()
        for request in requests[args.warmup:]:
            send(request)
        own.disable()
        stats = pstats.Stats(own).sort_stats(args.cprofile_sort)
        stats.print_stats(*([args.cprofile_only] if args.cprofile_only else []), args.cprofile)
        if args.cprofile_callers:
            stats.print_callers(args.cprofile_callers)
        if args.cprofile_callees:
            stats.print_callees(args.cprofile_callees)
        if args.cprofile_packages:
            print_packages(stats, args.repeat)
        return 0
    if not args.no_profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
        profiler.start()
    if args.gc_freeze:
        import gc

        gc.collect()
        gc.freeze()
    collections = watch_gc() if args.gc else None
    started, cpu = time.perf_counter(), time.process_time()
    for request in requests[args.warmup:]:
        send(request)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if collections is not None:
        import gc

        gc.callbacks.remove(collections.callback)
        print("garbage collector: " + ", ".join(
            f"generation {gen}: {runs} runs, {spent * 1000:.1f} ms"
            for gen, (runs, spent) in sorted(collections.by_generation.items())) +
              f"; {len(gc.get_objects()):,} objects tracked afterwards")
    if profiler is not None:
        profiler.stop()
        if args.html:
            Path(args.html).write_text(profiler.output_html())
        print(profiler.output_text(unicode=True, color=False, show_all=args.all))
    n = args.repeat
    what = "starts" if args.start else "approvals"
    print(f"{n} {what}: {wall / n * 1000:.2f} ms wall, {cpu / n * 1000:.2f} ms CPU per "
          f"request (profiler {'on' if profiler else 'off'}); {len(statements) / n:.2f} "
          f"statements, {sum(t for t, _ in statements) / n * 1000:.2f} ms in the database")
    print_slowest(statements, args.sql, 200)
    if args.prepared:
        print_prepared(app)
    return 0


class _GcWatch:
    def __init__(self):
        self.by_generation: dict[int, list] = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
        self._started = 0.0

    def callback(self, phase, info):
        if phase == "start":
            self._started = time.perf_counter()
        else:
            entry = self.by_generation[info["generation"]]
            entry[0] += 1
            entry[1] += time.perf_counter() - self._started


def watch_gc() -> _GcWatch:
    import gc

    watch = _GcWatch()
    gc.callbacks.append(watch.callback)
    return watch


def print_prepared(app) -> None:
    """psycopg prepares a statement on the server once a connection has run it
    ``prepare_threshold`` times: what was, and how PostgreSQL planned its executions."""
    from sqlalchemy import text

    from webapp.extensions import db

    with app.app_context():
        rows = db.session.execute(text(
            "SELECT generic_plans, custom_plans, left(regexp_replace(statement, '\\s+', ' ', 'g'), 110)"
            " FROM pg_prepared_statements ORDER BY generic_plans + custom_plans DESC")).all()
    print(f"{len(rows)} prepared statements on the connection (generic / custom plans):")
    for generic, custom, statement in rows:
        print(f"  {generic:>5} {custom:>5}  {statement}")


if __name__ == "__main__":
    sys.exit(main())
