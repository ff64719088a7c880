"""/healthz tells a load balancer whether this process can serve: the database answers,
its schema is the one the code needs, and Redis (when configured) answers."""
from __future__ import annotations

from sqlalchemy import text

from webapp import create_app
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
