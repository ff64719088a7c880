"""How long ``flask audit verify`` (``webapp.services.audit.verify``) takes on a long log.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/unionflow_audit_bench \
        python bench/audit_verify.py --entries 100000 --fresh

``bench/generate.py`` writes no audit entries (only the demo's), so this fills the log
itself: entries shaped like a request's steps (form fields, the step, the engine's
details, status and current steps before and after), chained and hashed with
``entry_hash`` exactly as the seal does, inserted in batches.  Then it times ``verify``
— the very function the command line and the page's verification run — and prints
entries per second and the time a million would take at that rate (it is linear: one
streamed pass, one hash per entry).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _entry(n: int, at: datetime) -> dict:
    return {"at": at, "actor_id": None, "action": "instance.approve",
            "object_type": "instance", "object_id": str(1000 + n // 4),
            "unit_path": "/1/2/7/", "before": {"status": "running", "steps": ["verify"]},
            "after": {"status": "running", "steps": ["wall"], "step": "verify",
                      "comment": "同意，请尽快联系站点。",
                      "details": {"to": [12, 15], "result": "granted"},
                      "title": "一个新头盔", "phone": "13800138000"}}


def fill(count: int, batch: int = 5000) -> None:
    from sqlalchemy import insert, select

    from webapp.extensions import db
    from webapp.models import AuditEntry
    from webapp.services.audit import GENESIS, entry_hash

    head = db.session.execute(select(AuditEntry.seq, AuditEntry.hash).where(
        AuditEntry.seq.is_not(None)).order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = []
    for n in range(count):
        seq += 1
        row = _entry(n, start + timedelta(seconds=7 * n, microseconds=n % 997))
        row.update(seq=seq, prev_hash=prev)
        row["hash"] = prev = entry_hash(row, prev)
        rows.append(row)
        if len(rows) == batch:
            db.session.execute(insert(AuditEntry.__table__), rows)
            db.session.commit()
            rows = []
    if rows:
        db.session.execute(insert(AuditEntry.__table__), rows)
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--fresh", action="store_true",
                        help="empty the database and build the schema first")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import AuditEntry
    from webapp.services.audit import verify

    app = create_app({"SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"]})
    with app.app_context():
        if args.fresh:
            if db.engine.dialect.name == "postgresql":
                with db.engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
            upgrade()
        have = db.session.scalar(select(func.count(AuditEntry.id)))
        if have < args.entries:
            began = time.perf_counter()
            fill(args.entries - have)
            print(f"filled {args.entries - have} entries in {time.perf_counter() - began:.1f} s")
        for _ in range(args.runs):
            began = time.perf_counter()
            result = verify()
            took = time.perf_counter() - began
            db.session.rollback()
            print(f"verify: {result.count} entries, ok={result.ok}, {took:.2f} s, "
                  f"{result.count / took:,.0f} entries/s; 1,000,000 at this rate: "
                  f"{1_000_000 / (result.count / took):.0f} s")


if __name__ == "__main__":
    main()
