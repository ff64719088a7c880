"""/healthz tells a load balancer whether this process can serve: the database answers,
its schema is the one the code needs, and Redis (when configured) answers."""
from __future__ import annotations

import socket
import time
from contextlib import contextmanager
from functools import partial

import pytest

from sqlalchemy import event, text

from webapp import create_app
from webapp.database import DEAD_HOST_PARAMETERS
from webapp.extensions import db


def test_healthy_when_the_database_answers_at_the_migrations_head(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok"}}


def test_a_schema_behind_the_code_is_unavailable_until_upgraded(app, client):
    head = db.session.scalar(text("SELECT version_num FROM alembic_version"))
    db.session.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert "schema at older" in response.json["checks"]["database"]
    assert "flask db upgrade" in response.json["checks"]["database"]
    db.session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    db.session.commit()
    assert client.get("/healthz").status_code == 200


def test_an_unreachable_database_or_redis_is_503_without_secrets(app_config):
    app = create_app({**app_config,
                      "SQLALCHEMY_DATABASE_URI": "postgresql://uf:s3cret@127.0.0.1:1/uf",
                      "REDIS_URL": "redis://:s3cret@127.0.0.1:1/13"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    checks = response.json["checks"]
    assert checks["database"].startswith("unreachable") and checks["redis"].startswith(
        "unreachable")
    assert b"s3cret" not in response.data and b"127.0.0.1" not in response.data


@contextmanager
def silent_server():
    """A port that takes connections (the kernel completes the handshake) and never says
    a word: what a client sees of a server that hangs, and, for a driver without a
    time-out, as long a wait as a black-holed host."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_a_database_or_redis_that_never_answers_is_503_within_the_time_outs(app_config):
    with silent_server() as db_port, silent_server() as redis_port:
        app = create_app({**app_config, "DATABASE_CONNECT_TIMEOUT": 2,
                          "SQLALCHEMY_DATABASE_URI": f"postgresql://uf@127.0.0.1:{db_port}/uf",
                          "REDIS_URL": f"redis://127.0.0.1:{redis_port}/13"})
        started = time.monotonic()
        response = app.test_client().get("/healthz")
        took = time.monotonic() - started
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "unreachable (ConnectionTimeout)",
                                       "redis": "unreachable (TimeoutError)"}
    assert took < 8  # 2 s for each; psycopg's own default would wait 130 s


class Seen(Exception):
    pass


def _driver_params(app_config, **config):
    """What the engine the app builds hands the driver's connect(), seen as it is about
    to call it (no server needed)."""
    app = create_app({**app_config, **config})
    with app.app_context():
        @event.listens_for(db.engine, "do_connect")
        def stop(dialect, record, cargs, cparams):
            raise Seen(cparams)
        try:
            db.engine.connect()
        except Seen as seen:
            return seen.args[0]


def test_postgresql_connections_have_a_connect_timeout_unless_the_url_sets_one(app_config):
    driver_params = partial(_driver_params, app_config)
    url = "postgresql://uf@db-host.invalid/uf"
    assert driver_params(SQLALCHEMY_DATABASE_URI=url)["connect_timeout"] == 5
    assert driver_params(SQLALCHEMY_DATABASE_URI=url, DATABASE_CONNECT_TIMEOUT=12
                         )["connect_timeout"] == 12
    assert driver_params(SQLALCHEMY_DATABASE_URI=url + "?connect_timeout=30"
                         )["connect_timeout"] == "30"
    assert driver_params(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={
        "connect_args": {"connect_timeout": 9}})["connect_timeout"] == 9
    assert "connect_timeout" not in driver_params(SQLALCHEMY_DATABASE_URI="sqlite://")


KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3, "tcp_user_timeout": 30_000}


def test_postgresql_connections_notice_a_vanished_host_unless_the_url_says_otherwise(
        app_config):
    """TCP keepalives and a user time-out on every PostgreSQL connection: each of them
    the URL's when its query string names it, SQLite's connections untouched."""
    driver_params = partial(_driver_params, app_config)
    url = "postgresql://uf@db-host.invalid/uf"
    assert DEAD_HOST_PARAMETERS == KEEPALIVES
    given = driver_params(SQLALCHEMY_DATABASE_URI=url)
    assert {name: given.get(name) for name in KEEPALIVES} == KEEPALIVES
    own = driver_params(SQLALCHEMY_DATABASE_URI=url + "?keepalives_idle=60&tcp_user_timeout=0"
                        "&connect_timeout=30")
    assert {name: own.get(name) for name in KEEPALIVES} == {
        **KEEPALIVES, "keepalives_idle": "60", "tcp_user_timeout": "0"}
    assert own["connect_timeout"] == "30"
    # Engine options' connect_args still win over the defaults, as for connect_timeout.
    assert driver_params(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={
        "connect_args": {"keepalives_count": 9}})["keepalives_count"] == 9
    lite = driver_params(SQLALCHEMY_DATABASE_URI="sqlite://")
    assert not set(lite) & {*KEEPALIVES, "connect_timeout"}
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert "connect_args" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]


def _socket_options(raw) -> dict[str, int]:
    """The options the kernel holds for the connection's own TCP socket."""
    tcp = socket.IPPROTO_TCP
    with socket.fromfd(raw.pgconn.socket, socket.AF_INET, socket.SOCK_STREAM) as sock:
        return {"keepalives": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                "keepalives_idle": sock.getsockopt(tcp, socket.TCP_KEEPIDLE),
                "keepalives_interval": sock.getsockopt(tcp, socket.TCP_KEEPINTVL),
                "keepalives_count": sock.getsockopt(tcp, socket.TCP_KEEPCNT),
                "tcp_user_timeout": sock.getsockopt(tcp, socket.TCP_USER_TIMEOUT)}


def _real_connection(app):
    with app.app_context(), db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        if raw.info.host.startswith("/"):
            pytest.skip("a Unix socket has no TCP options: TEST_DATABASE_URL over TCP")
        return ({k: v for k, v in raw.info.get_parameters().items() if k in KEEPALIVES},
                _socket_options(raw))


@pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="Linux socket options")
def test_a_real_postgresql_connection_of_the_app_carries_them(app, app_config):
    """libpq was given them (its connection's parameters), and applied them: the kernel's
    options on the socket it connected through.  A value in the URL is the one used."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (TEST_DATABASE_URL)")
    libpq, kernel = _real_connection(app)
    assert libpq == {name: str(value) for name, value in KEEPALIVES.items()}
    assert kernel == KEEPALIVES
    url = db.engine.url.update_query_dict({"keepalives_idle": "45"})
    own = create_app({**app_config, "SQLALCHEMY_DATABASE_URI":
                      url.render_as_string(hide_password=False)})
    libpq, kernel = _real_connection(own)
    assert (libpq["keepalives_idle"], kernel["keepalives_idle"]) == ("45", 45)
    assert kernel == {**KEEPALIVES, "keepalives_idle": 45}
    with own.app_context():
        db.engine.dispose()
