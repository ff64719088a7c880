"""``webapp.pg_cursor``: on PostgreSQL a result's description is made only when read."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from webapp.extensions import db
from webapp.models import User
from webapp.pg_cursor import Description, LazyDescriptionCursor


@pytest.fixture
def pg(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (TEST_DATABASE_URL)")
    return db.session.connection().connection.dbapi_connection


def test_the_apps_connections_use_it(pg):
    assert pg.cursor_factory is LazyDescriptionCursor
    with pg.cursor() as cursor:
        assert isinstance(cursor, LazyDescriptionCursor)


def test_it_describes_what_psycopgs_own_list_describes(pg):
    import psycopg

    sql = "SELECT 1 AS n, 'x'::text AS label, now() AS at, NULL::numeric(10, 2) AS amount"
    with pg.cursor() as lazy, psycopg.Cursor(pg) as plain:
        lazy.execute(sql)
        plain.execute(sql)
        described = lazy.description
        assert isinstance(described, Description)
        assert described._columns is None  # nothing made until asked
        assert len(described) == 4
        assert described._columns is None
        expected = plain.description
        assert [tuple(c) for c in described] == [tuple(c) for c in expected]
        assert described[1].name == "label" and described[-1].name == "amount"
        assert [c.name for c in described[1:3]] == ["label", "at"]
        assert "label" in repr(described)


def test_it_keeps_describing_its_own_result_after_the_cursor_moved_on(pg):
    with pg.cursor() as cursor:
        cursor.execute("SELECT 1 AS first_one")
        first = cursor.description
        cursor.execute("SELECT 2 AS second_one, 3 AS third_one")
        assert [c.name for c in first] == ["first_one"]
        assert [c.name for c in cursor.description] == ["second_one", "third_one"]
        cursor.execute("SET LOCAL statement_timeout = 0")
        assert cursor.description is None  # no rows, as psycopg says it
        cursor.execute("SELECT")
        assert cursor.description is not None and len(cursor.description) == 0


def test_sqlalchemy_reads_new_and_cached_statements_alike(pg, org, make_user):
    make_user("lazy_reader", unit=org["company"])
    db.session.commit()
    for _ in range(2):  # the second run reuses the compiled statement's columns
        row = db.session.execute(text("SELECT 7 AS seven, 'a' AS letter")).one()
        assert row._mapping == {"seven": 7, "letter": "a"}
        person = db.session.scalar(select(User).where(User.username == "lazy_reader"))
        assert person.username == "lazy_reader"
        assert db.session.execute(select(User.id, User.username).where(
            User.username == "lazy_reader")).one().username == "lazy_reader"
