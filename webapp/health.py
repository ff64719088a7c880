"""Whether the services the app needs answer: the database (and its schema at the
migrations' head) and Redis.  Read by ``/healthz`` (a load balancer) and by the commands
that cannot work without them (``flask worker``, ``flask queue-check``, ``db upgrade``).
"""
from __future__ import annotations

import threading

import click
from flask import Flask, current_app
from sqlalchemy import text

from webapp.settings import redacted

SCHEMA_KEY = "unionflow_schema_ok"  # app.extensions: the revision last seen at the head
PROBE_KEY = "unionflow_redis_probe"
_head_lock = threading.Lock()
_head: list[str | None] = []


def failure_text(exc: BaseException) -> str:
    """The first line of what the driver said."""
    first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return first[0] if first else type(exc).__name__


def database_unreachable(url: str, exc: BaseException) -> click.ClickException:
    return click.ClickException(f"DATABASE_URL ({redacted(url)}) does not answer: "
                                f"{failure_text(exc)}")


def redis_unreachable(url: str, exc: BaseException) -> click.ClickException:
    return click.ClickException(f"REDIS_URL ({redacted(url)}) does not answer: "
                                f"{failure_text(exc)}")


def migrations_head() -> str | None:
    """The head revision of ``migrations/``, worked out once per process."""
    with _head_lock:
        if not _head:
            from alembic.config import Config
            from alembic.script import ScriptDirectory

            from webapp.database import MIGRATIONS_DIR

            config = Config()
            config.set_main_option("script_location", MIGRATIONS_DIR)
            _head.append(ScriptDirectory.from_config(config).get_current_head())
        return _head[0]


def check_database(app: Flask) -> str | None:
    """None if the database answers and its schema is at the head, else why not.

    Once the schema was seen at the head it is not read again: a running release's
    schema only moves forward, to a head this process's code does not know."""
    from webapp.extensions import db

    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        head = migrations_head()
        if app.extensions.get(SCHEMA_KEY) == head:
            return None
        try:
            current = connection.execute(text("SELECT version_num FROM alembic_version")
                                         ).scalar()
        except Exception:  # noqa: BLE001 - no table: never migrated
            connection.rollback()
            current = None
    if current != head:
        return (f"schema at {current or 'no revision'}, this code needs {head}: "
                "run flask db upgrade")
    app.extensions[SCHEMA_KEY] = head
    return None


def ping_redis(app: Flask) -> None:
    """Ping REDIS_URL on a connection of its own with short time-outs (a probe must not
    hang on a dead host the way a worker may wait on a live one)."""
    probe = app.extensions.get(PROBE_KEY)
    if probe is None:
        import redis

        probe = app.extensions[PROBE_KEY] = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=2)
    probe.ping()


def require_database() -> None:
    """For a command: ClickException naming DATABASE_URL if the database does not answer."""
    from webapp.extensions import db

    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any driver's failure to connect
        raise database_unreachable(current_app.config["SQLALCHEMY_DATABASE_URI"], exc
                                   ) from None


def require_redis() -> None:
    """For a command: ClickException naming REDIS_URL if Redis does not answer."""
    app = current_app._get_current_object()
    try:
        ping_redis(app)
    except Exception as exc:  # noqa: BLE001 - refused, timed out, wrong password
        raise redis_unreachable(app.config["REDIS_URL"], exc) from None
