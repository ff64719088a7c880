"""p95 of the pages people wait on, on the data set in the database.

    python bench/pages.py                  # the database in DATABASE_URL (PostgreSQL default)
    python bench/pages.py --seconds 8 --connections 2

Run it after ``bench/generate.py --scale 10k``, ``100k`` and ``1m`` (``city``) to see how
the cost grows with the history.  It starts gunicorn (sync workers, production settings)
on loopback, signs each demo person in through the login form, and runs wrk (bounded) on
each page with that person's session cookie:

  inbox        ``/inbox`` as yuzhong_admin (a district's demands to dispatch) and as
               volunteer1 (the district's wishes to claim, in the pool)
  wish wall    ``/wishes`` as volunteer1
  stations     ``/stations?q=商圈`` and ``/stations?district=…&service=parking`` as rider1
  reports      ``/reports/demands`` as city_admin (open demands by district, category,
               age) and ``/reports/five-ones`` as city_admin
  start form   ``/processes/micro_wish/start`` as rider1 (its station select: the city
               has 6,000 stations)

Every 200 is checked to be the page (not the sign-in form).  Figures are printed with the
data size and the conditions.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (RssSampler, app_env, conditions, data_size, fmt,  # noqa: E402
                          free_port, gunicorn, pg_url, wait_for, wrk, write_lines)

PASSWORD = "demo-pass-2026"
USER_AGENT = "unionflow-bench"  # the same in wrk (requests.lua): sessions are tied to it


def sign_in(port: int, username: str) -> str:
    """The session cookie of ``username``, through the real form (CSRF and all)."""
    import requests

    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    base = f"http://127.0.0.1:{port}"
    page = s.get(f"{base}/auth/login", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    r = s.post(f"{base}/auth/login", data={"csrf_token": token, "username": username,
                                           "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    cookie = s.cookies.get("session")
    if not cookie or "/auth/login" in r.url:
        raise RuntimeError(f"could not sign in as {username}")
    return f"session={cookie}"


def district_id(url: str, code: str) -> int:
    from sqlalchemy import create_engine, text

    from webapp.config import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    with engine.connect() as conn:
        value = conn.execute(text("SELECT id FROM org_units WHERE code = :c"),
                             {"c": code}).scalar_one()
    engine.dispose()
    return value


def pages(url: str) -> list[tuple[str, str, str]]:
    yz = district_id(url, "cq-yz")
    return [
        ("inbox (district admin)", "yuzhong_admin", "/inbox"),
        ("inbox (volunteer pool)", "volunteer1", "/inbox"),
        ("wish wall", "volunteer1", "/wishes"),
        ("station search q=商圈", "rider1", "/stations?q=%E5%95%86%E5%9C%88"),
        ("stations district+parking", "rider1", f"/stations?district={yz}&service=parking"),
        ("report: open demands", "city_admin", "/reports/demands"),
        ("report: 五个一 progress", "city_admin", "/reports/five-ones"),
        ("start form: micro-wish", "rider1", "/processes/micro_wish/start"),
    ]


def main(argv=None) -> int:
    import requests

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default=pg_url())
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--only", help="run the pages whose name contains this")
    parser.add_argument("--json", help="append the figures to this file (JSON lines)")
    parser.add_argument("--label", default="", help="a name for this run in --json")
    args = parser.parse_args(argv)
    size = data_size(args.database)
    print("bench/pages.py  " + conditions(db=args.database.split("@")[-1],
                                          gunicorn=f"{args.workers}×sync",
                                          wrk=f"1 thread, {args.connections} connections, "
                                              f"{args.seconds} s per page"))
    print("data: " + size, flush=True)
    work = Path(tempfile.mkdtemp(prefix="unionflow-pages-"))
    port = free_port()
    results = {}
    with RssSampler() as rss, gunicorn("wsgi:app", port, args.workers,
                                       app_env(args.database, None), work / "gunicorn.log"
                                       ) as web:
        rss.watch("gunicorn", web.pid)
        wait_for(port, "/auth/login")
        cookies = {}
        for name, user, path in pages(args.database):
            if args.only and args.only not in name:
                continue
            if user not in cookies:
                cookies[user] = sign_in(port, user)
            check = requests.get(f"http://127.0.0.1:{port}{path}", timeout=60,
                                 headers={"Cookie": cookies[user], "User-Agent": USER_AGENT}, allow_redirects=False)
            if check.status_code != 200:
                print(f"{name:28} FAILED: {path} answered {check.status_code}", flush=True)
                results[name] = {"p95_ms": None, "failed": check.status_code}
                continue
            lines = work / "page.txt"
            write_lines(lines, [("GET", path, "cookie:" + cookies[user].split("=", 1)[0] + "="
                                 + cookies[user].split("=", 1)[1], None)])
            r = wrk(port, lines, args.seconds, args.connections, threads=1)
            results[name] = r
            if set(r["statuses"]) != {"200"}:
                print(f"  WARNING: not every answer was 200: {r['statuses']}")
            print(f"{name:28} {fmt(r)}", flush=True)
    print("peak RSS of a web worker: " + rss.report())
    print("  " + conditions())
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps({"data": size, "code": args.label,
                                "pages": {k: v["p95_ms"] for k, v in results.items()},
                                "rss": rss.peak}, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
