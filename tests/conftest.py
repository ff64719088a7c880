"""Shared fixtures: the app on a per-test database, a client, a CLI runner, factories.

The suite runs on SQLite by default.  With ``TEST_DATABASE_URL`` set it runs on that
PostgreSQL database instead, and with ``TEST_REDIS_URL`` set the parts that use Redis
talk to that server.  Under CI (``CI`` set) a service that is named but not answering
is a failure, not a skip.
"""
from __future__ import annotations

import os
import shutil

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, inspect, text

from webapp import create_app
from webapp.database import write_lock
from webapp.extensions import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
IN_CI = bool(os.environ.get("CI"))
PASSWORD = "correct-horse-battery"


def require_service(reason: str):
    """Skip locally, fail under CI: a missing service must never pass CI silently."""
    if IN_CI:
        pytest.fail(f"CI needs this: {reason}")
    pytest.skip(reason)


def _upgrade(url: str) -> None:
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """The schema, made once per run by the real migrations (not ``create_all``)."""
    if TEST_DATABASE_URL:
        from webapp.config import normalise_database_url

        url = normalise_database_url(TEST_DATABASE_URL)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        _upgrade(url)
        return {"url": url}
    path = tmp_path_factory.mktemp("db") / "template.db"
    _upgrade(f"sqlite:///{path}")
    return {"file": path}


@pytest.fixture
def database_url(database_template, tmp_path):
    if "url" in database_template:
        url = database_template["url"]
        yield url
        _truncate_all(url)
    else:
        path = tmp_path / "test.db"
        shutil.copy(database_template["file"], path)
        yield f"sqlite:///{path}"


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    names = [n for n in inspect(engine).get_table_names() if n != "alembic_version"]
    if names:
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names)
                              + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def redis_url():
    """A real Redis (``TEST_REDIS_URL``), flushed around the test, or None."""
    if not TEST_REDIS_URL:
        yield None
        return
    import redis

    conn = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        conn.ping()
    except redis.exceptions.ConnectionError:
        require_service(f"Redis at {TEST_REDIS_URL} is not answering")
    conn.flushdb()
    yield TEST_REDIS_URL
    conn.flushdb()
    conn.close()


@pytest.fixture
def app_config(database_url, redis_url, tmp_path):
    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "INSTANCE_PATH": str(tmp_path / "instance"),
    }
    return config


class FreshContextClient(FlaskClient):
    """Each request gets its own app context, as in production.

    The ``app`` fixture keeps an app context open for the test body; without this, every
    request would share it, and with it ``g`` (Flask-Login's cached user, Flask-Babel's
    cached locale) and the test's database session.
    """

    def open(self, *args, **kwargs):
        # End the test body's transaction first: what it wrote is what the request sees,
        # and on SQLite (BEGIN IMMEDIATE) an open transaction would hold the write lock.
        if db.session.registry.has() and db.session().in_transaction():
            db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    app.test_client_class = FreshContextClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- factories ---------------------------------------------------------------------------

@pytest.fixture
def make_unit(app):
    from webapp.services.org import create_unit, unit_by_code

    def make(code, kind, parent=None, name=None):
        with write_lock():
            parent_unit = unit_by_code(parent) if isinstance(parent, str) else parent
            unit = create_unit(code, name or code, kind, parent_unit)
        db.session.commit()
        return unit

    return make


@pytest.fixture
def make_user(app):
    from webapp.services.users import create_user, grant_role

    def make(username, *roles, unit=None, password=PASSWORD, name=None):
        """``roles`` are (role, unit) pairs; ``unit`` is the home unit."""
        with write_lock():
            user = create_user(username, password, name or username, unit=unit)
            for role, role_unit in roles:
                grant_role(user, role, role_unit)
        db.session.commit()
        return user

    return make


@pytest.fixture
def org(make_unit):
    """A small tree: city → two districts → street → enterprise / branch / station."""
    units = {}
    units["city"] = make_unit("cq", "city")
    units["yz"] = make_unit("cq-yz", "district", units["city"])
    units["jb"] = make_unit("cq-jb", "district", units["city"])
    units["street"] = make_unit("cq-yz-jfb", "street", units["yz"])
    units["company"] = make_unit("cq-yz-co", "enterprise", units["street"])
    units["branch"] = make_unit("cq-yz-br", "branch", units["street"])
    units["station"] = make_unit("cq-yz-st", "station", units["street"])
    units["jb_street"] = make_unit("cq-jb-gyq", "street", units["jb"])
    return units


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, username, password=PASSWORD, **extra):
        return self._client.post("/auth/login", data={"username": username,
                                                      "password": password, **extra})

    def logout(self):
        return self._client.post("/auth/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)
