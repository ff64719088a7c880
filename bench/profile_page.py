"""Profile one page as one person with pyinstrument, in-process (no server).

    python bench/profile_page.py volunteer1 /wishes [--html out.html]

Uses DATABASE_URL (default: the bench PostgreSQL database).  Signs in through the form,
requests the page once to warm up, then profiles ``--repeat`` requests.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import pg_url, print_slowest, timed_statements  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("username")
    parser.add_argument("path")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--html")
    parser.add_argument("--all", action="store_true", help="show library frames too")
    parser.add_argument("--sql", type=int, default=0, help="list the N slowest queries")
    args = parser.parse_args(argv)
    os.environ.setdefault("DATABASE_URL", pg_url())
    os.environ.pop("REDIS_URL", None)
    os.environ["UNIONFLOW_EMBEDDED_WORKER"] = "false"
    os.environ.setdefault("UNIONFLOW_INSTANCE_PATH", "/tmp/unionflow-bench-instance")
    from pyinstrument import Profiler

    from webapp import create_app

    app = create_app()
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/auth/login", data={"csrf_token": token, "username": args.username,
                                     "password": "demo-pass-2026"})
    assert client.get(args.path).status_code == 200
    queries = timed_statements(app) if args.sql else []
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(args.repeat):
        client.get(args.path)
    profiler.stop()
    if args.html:
        Path(args.html).write_text(profiler.output_html())
    print(profiler.output_text(unicode=True, color=False, show_all=args.all))
    if args.sql:
        print(f"{len(queries) / args.repeat:.0f} queries per request, "
              f"{sum(t for t, _ in queries) / args.repeat * 1000:.0f} ms in the database")
        print_slowest(queries, args.sql)
    return 0


if __name__ == "__main__":
    sys.exit(main())
