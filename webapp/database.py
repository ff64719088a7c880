"""The database connection: SQLAlchemy, Alembic migrations, and SQLite's settings."""
from __future__ import annotations

import os

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from webapp.extensions import db, migrate

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


@event.listens_for(Engine, "begin")
def _sqlite_begin_immediate(conn):
    # SQLite has no SELECT … FOR UPDATE.  Taking the write lock when the transaction
    # begins makes a second writer wait (busy_timeout) and then read the first one's
    # result, instead of failing with "database is locked" when it tries to upgrade a
    # stale read to a write.  It also makes SAVEPOINTs work as documented.
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def init_app(app: Flask) -> None:
    import webapp.models  # noqa: F401  (registers every table on the metadata)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True,
                     compare_type=True)
