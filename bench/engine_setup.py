"""What bench/engine.py, bench/burst.py and bench/notify.py share: the conditions every
figure is printed with, a fresh database built by the real migrations, and a small
union tree with the people a three-level approval needs.

Benchmarks only — these helpers drop and recreate the schema of the database they are
given, so give them a database of their own, never one with data in it.
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHAIN_DEFINITION = ROOT / "bench" / "definitions" / "bench_chain.yaml"
PASSWORD = "bench-pass-2026"


def conditions(url: str, **sizes) -> str:
    """One line saying where a figure was taken: machine, load, database, sizes."""
    try:
        load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    db = url.split("://", 1)[0].split("+", 1)[0]
    if db == "sqlite":
        db = "SQLite file"
    else:
        db = "PostgreSQL " + _pg_version(url)
    extra = ", ".join(f"{k}={v}" for k, v in sizes.items())
    return (f"[{platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} CPUs, load {load}, {db}{', ' + extra if extra else ''}; "
            "busy shared machine]")


def _pg_version(url: str) -> str:
    from sqlalchemy import create_engine, text

    from webapp.config import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            return conn.execute(text("SHOW server_version")).scalar().split()[0]
    except Exception:  # noqa: BLE001 - only a label
        return "?"
    finally:
        engine.dispose()


def percentile(values, p: float) -> float:
    """The p-th percentile (0–100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if p < 100 \
        else float(max(values))


def fresh_database(url: str) -> str:
    """Empty the database at ``url`` and build the schema with the real migrations.

    SQLite: the file is deleted first.  PostgreSQL: the public schema is dropped.
    Returns the normalised URL.
    """
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, text

    from webapp import create_app
    from webapp.config import normalise_database_url
    from webapp.extensions import db

    url = normalise_database_url(url)
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "UNIONFLOW_ENV": "testing"})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


def service_env(url: str, instance_path: str, **settings) -> dict:
    """The environment for a separate process of the app (gunicorn, ``flask worker``):
    production settings on ``url``, the given ``UNIONFLOW_*`` settings added."""
    import secrets

    env = dict(os.environ)
    env.update({"DATABASE_URL": url, "UNIONFLOW_ENV": "production",
                "SECRET_KEY": secrets.token_hex(32), "UNIONFLOW_INSTANCE_PATH": instance_path})
    env.update({f"UNIONFLOW_{k}": str(v) for k, v in settings.items()})
    return env


def make_app(url: str, instance_path: str, **config):
    """The real app on ``url`` — testing settings, no CSRF, the embedded queue unless a
    ``REDIS_URL`` is given."""
    from webapp import create_app

    settings = {"SQLALCHEMY_DATABASE_URI": url, "UNIONFLOW_ENV": "testing",
                "WTF_CSRF_ENABLED": False, "RATELIMIT_STORAGE_URI": "memory://",
                "INSTANCE_PATH": instance_path}
    settings.update(config)
    return create_app(settings)


def chain_org(prefix: str = "b"):
    """A city → district → enterprise, and an administrator at each level.

    Returns (units, approvers) with approvers = [unit_admin, district_admin, city_admin].
    Call in an app context; commits.
    """
    from webapp.database import write_lock
    from webapp.extensions import db
    from webapp.services.org import create_unit
    from webapp.services.users import create_user, grant_role

    with write_lock():
        city = create_unit(f"{prefix}-city", "基准市", "city")
        district = create_unit(f"{prefix}-dist", "基准区", "district", city)
        company = create_unit(f"{prefix}-co", "基准企业", "enterprise", district)
        approvers = []
        for role, unit in (("unit_admin", company), ("district_admin", district),
                           ("city_admin", city)):
            user = create_user(f"{prefix}-{role}", PASSWORD, role, unit=unit)
            grant_role(user, role, unit)
            approvers.append(user)
    db.session.commit()
    return {"city": city, "district": district, "company": company}, approvers


def make_workers(unit, count: int, prefix: str = "w", email: bool = False,
                 role: str = "worker") -> list[int]:
    """``count`` people holding ``role`` at ``unit`` (one password hash, copied: hashing 1,000 passwords
    would be the benchmark).  Returns their ids.  Commits."""
    from webapp.database import write_lock
    from webapp.extensions import db
    from webapp.models import Membership, User

    with write_lock():
        first = User(username=f"{prefix}-0", display_name=f"{prefix}-0", unit=unit,
                     email=f"{prefix}-0@bench.local" if email else None)
        first.set_password(PASSWORD)
        users = [first] + [
            User(username=f"{prefix}-{i}", display_name=f"{prefix}-{i}", unit=unit,
                 password_hash=first.password_hash,
                 email=f"{prefix}-{i}@bench.local" if email else None)
            for i in range(1, count)]
        db.session.add_all(users)
        db.session.flush()
        db.session.add_all([Membership(user_id=u.id, unit_id=unit.id, role=role)
                            for u in users])
    db.session.commit()
    return [u.id for u in users]
