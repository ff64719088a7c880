"""The database connection: SQLAlchemy, Alembic migrations, and SQLite's settings."""
from __future__ import annotations

import json
import os
import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from flask import Flask, g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from webapp.extensions import db, migrate
from webapp.models.types import as_utc


def loaded(cls, ident):
    """The row of ``cls`` with this id if this session has already read it (in this
    transaction: a commit expires it), else None — no query either way.

    The identity key is made here as SQLAlchemy makes it for a mapped class of its own
    (no inheritance, one column of primary key, no shard): ``identity_key(cls, ident)``
    works that out again at every call, and steps ask this many times
    (``tests/webapp/test_database.py`` checks the two agree)."""
    obj = db.session().identity_map.get((cls, (ident,), None))
    return obj if obj is not None and not obj._sa_instance_state.expired else None


def rows_document(rows) -> str:
    """Rows (dicts) as one JSON document for ``jsonb_to_recordset``, each with its place
    ``n`` (from 0), or a list of plain values as it is: one parameter for a statement
    instead of an array per column.  Datetimes go as UTC ISO text (``as_utc``)."""
    rows = [{**row, "n": n} if isinstance(row, dict) else row for n, row in enumerate(rows)]
    return json.dumps(rows, default=_utc_text, ensure_ascii=False, separators=(",", ":"))


def _utc_text(value):
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    # WAL lets readers go on while one writer writes; foreign keys are off by default;
    # a busy timeout makes a second writer wait instead of failing at once.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        # We issue BEGIN ourselves (below); pysqlite's own would defer the write lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


@event.listens_for(Engine, "connect")
def _postgresql_settings(dbapi_connection, connection_record):
    # No JIT compilation: PostgreSQL compiles a query whose estimated cost passes
    # jit_above_cost, which a page's report over a city's open requests does; compiling
    # took ~40 ms of a ~80 ms query, on every request (each is planned anew).  A web app's
    # short queries never gain it back.
    if type(dbapi_connection).__module__.startswith("psycopg"):
        from webapp.pg_cursor import LazyDescriptionCursor

        dbapi_connection.cursor_factory = LazyDescriptionCursor
        cursor = dbapi_connection.cursor()
        cursor.execute("SET jit = off")
        cursor.close()
        dbapi_connection.commit()


# SQLite has no SELECT … FOR UPDATE.  A transaction that reads and then writes fails at
# once with "database is locked" if another writer committed in between.  So a
# transaction that is going to write takes the write lock when it begins (BEGIN
# IMMEDIATE): a second writer then waits (busy_timeout) and reads the first one's
# result.  Reads (GET pages) begin deferred and never wait for writers (WAL).
_IMMEDIATE: ContextVar[bool] = ContextVar("sqlite_begin_immediate", default=False)


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    if conn.dialect.name == "sqlite":
        immediate = _IMMEDIATE.get()
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        conn.info["sqlite_immediate"] = immediate


@event.listens_for(Session, "after_flush")
def _mark_written(session, flush_context):
    session.info["wrote"] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_written(session, transaction):
    if transaction.parent is None:
        session.info.pop("wrote", None)


@contextmanager
def write_lock():
    """Run the block in a transaction that writes; on SQLite, one that holds the lock.

    PostgreSQL needs nothing here (rows are locked with FOR UPDATE).  On SQLite a
    transaction that has only read so far is ended first (it wrote nothing) and a new
    one begins with BEGIN IMMEDIATE, so its reads see the latest committed data.
    """
    session = db.session()
    if session.get_bind().dialect.name != "sqlite" or session.info.get("wrote"):
        yield
        return
    if session.in_transaction():
        if session.connection().info.get("sqlite_immediate"):
            yield  # this transaction began holding the lock (a form post)
            return
        session.commit()
    token = _IMMEDIATE.set(True)
    try:
        session.connection()  # begins now, holding the write lock
    finally:
        _IMMEDIATE.reset(token)
    yield


def _unsafe_request_writes() -> None:
    # Form posts and API writes read, then write: give them the lock up front.
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        g._sqlite_immediate_token = _IMMEDIATE.set(True)


def _end_request(exc=None) -> None:
    token = g.pop("_sqlite_immediate_token", None)
    if token is not None:
        _IMMEDIATE.reset(token)


# Engines of this process.  A forked child (an RQ work horse) must not reuse the
# parent's pooled connections: two processes on one socket corrupt both sessions.
_ENGINES: "weakref.WeakSet" = weakref.WeakSet()


def _forget_inherited_connections() -> None:
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


# PostgreSQL: an established connection to a host that vanished (a failed-over primary, a
# dropped route) fails within about 40 s instead of waiting on TCP's own time-outs: some
# 15 minutes of retransmissions for a query sent, over 2 hours (the system's keepalive
# defaults) for a connection waiting on a result or idle in the pool.
# libpq: keepalive probes after 30 s of silence, every 10 s, 3 unanswered and it is dead;
# data sent and unacknowledged for 30 s (``tcp_user_timeout``, milliseconds) ends it too.
DEAD_HOST_PARAMETERS = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                        "keepalives_count": 3, "tcp_user_timeout": 30_000}


def _connect_args(app: Flask) -> None:
    """PostgreSQL: every new connection gives up after DATABASE_CONNECT_TIMEOUT seconds
    (psycopg's ``connect_timeout``), and one whose host vanishes fails within about 40 s
    (``DEAD_HOST_PARAMETERS``) — each unless the URL's query string or the engine
    options' ``connect_args`` set it.  SQLite is left alone."""
    from sqlalchemy.engine import make_url

    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "postgresql":
        return
    # The engine would pass connect_args over the URL's values: the URL's are left out.
    wanted = {name: value for name, value in (
        ("connect_timeout", app.config["DATABASE_CONNECT_TIMEOUT"]),
        *DEAD_HOST_PARAMETERS.items()) if name not in url.query}
    if not wanted:
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})  # not the class's dict
    options["connect_args"] = {**wanted, **(options.get("connect_args") or {})}
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def init_app(app: Flask) -> None:
    import webapp.models  # noqa: F401  (registers every table on the metadata)

    _connect_args(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True,
                     compare_type=True)
    app.before_request(_unsafe_request_writes)
    app.teardown_request(_end_request)
    with app.app_context():
        _ENGINES.add(db.engine)
