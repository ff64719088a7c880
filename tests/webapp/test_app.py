"""The app factory, its configuration, and what every response carries."""
from __future__ import annotations

import pytest

from tests.webapp.test_api import api  # noqa: F401
from tests.webapp.test_pages import login  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp import create_app
from webapp.config import secret_key_problem

STRONG_KEY = "Qx7-kR2pLw9_zNc4TfB8mYs3HdJ6vGa1"  # as secrets.token_urlsafe(24) makes them


def test_testing_config_is_used_for_tests(app):
    assert app.testing
    assert app.config["UNIONFLOW_ENV"] == "testing"


@pytest.mark.parametrize("key", [None, "", "dev", "change-me", "short-key", "a" * 32,
                                 "." * 35, "abcabcabcabcabcabcabcabcabcabcabc"])
def test_production_refuses_to_start_without_a_real_secret_key(monkeypatch, tmp_path, key):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    config = {"UNIONFLOW_ENV": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    if key is not None:
        config["SECRET_KEY"] = key
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(config)


def test_generated_secret_keys_pass_the_production_check():
    import secrets

    for _ in range(200):
        assert secret_key_problem(secrets.token_hex(32)) is None
        assert secret_key_problem(secrets.token_urlsafe(32)) is None
    assert "different characters" in secret_key_problem("a" * 32)


def test_production_hardens_cookies_and_trusts_the_proxy():
    app = create_app({"UNIONFLOW_ENV": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "EMBEDDED_WORKER": False,
                      "SECRET_KEY": STRONG_KEY})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_HTTPONLY"]
    from werkzeug.middleware.proxy_fix import ProxyFix

    assert isinstance(app.wsgi_app, ProxyFix)
    response = app.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "max-age" in response.headers["Strict-Transport-Security"]


@pytest.mark.parametrize("url", [None, "", "http://127.0.0.1:5000", "http://localhost:8000",
                                 "https://0.0.0.0", "http://[::1]:5000", "union.example.cn",
                                 "ftp://union.example.cn", "http://localhost.", "http://127.1",
                                 "http://0", "http://[::ffff:127.0.0.1]", "http://2130706433",
                                 " https://union.example.cn", "https://union.example.cn\n"])
def test_production_sending_e_mail_refuses_a_public_url_that_leads_nowhere(url, caplog):
    """E-mails link to PUBLIC_URL: left at its default (this machine), every link a
    worker opens on their phone fails.  A server that sends real e-mail refuses to start;
    one that does not logs it."""
    config = {"UNIONFLOW_ENV": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://",
              "EMBEDDED_WORKER": False, "SECRET_KEY": STRONG_KEY, "PUBLIC_URL": url}
    with pytest.raises(RuntimeError, match="UNIONFLOW_PUBLIC_URL"):
        create_app({**config, "MAIL_BACKEND": "smtp"})
    with caplog.at_level("WARNING"):
        create_app({**config, "MAIL_BACKEND": "file"})
    assert any("UNIONFLOW_PUBLIC_URL" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("sender", ["重庆市总工会", "", "a@x.cn, b@y.cn", "骑手@x.cn"])
def test_production_sending_e_mail_refuses_a_sender_that_is_not_one_address(sender):
    """Every message would fail on it (or carry a From with no address in it)."""
    config = {"UNIONFLOW_ENV": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://",
              "EMBEDDED_WORKER": False, "SECRET_KEY": STRONG_KEY, "MAIL_BACKEND": "smtp",
              "PUBLIC_URL": "https://union.example.cn", "MAIL_FROM": sender}
    with pytest.raises(RuntimeError, match="MAIL_FROM"):
        create_app(config)
    create_app({**config, "MAIL_FROM": "重庆市总工会 <noreply@union.example.cn>"})


@pytest.mark.parametrize("url", ["https://union.example.cn", "http://10.2.3.4:8000",
                                 "https://工会.中国/uf"])
def test_a_real_public_url_starts_production_quietly(url, caplog):
    config = {"UNIONFLOW_ENV": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://",
              "EMBEDDED_WORKER": False, "SECRET_KEY": STRONG_KEY, "PUBLIC_URL": url,
              "MAIL_BACKEND": "smtp"}
    with caplog.at_level("WARNING"):
        create_app(config)
    assert not any("PUBLIC_URL" in r.getMessage() for r in caplog.records)
    create_app({**config, "UNIONFLOW_ENV": "development", "PUBLIC_URL": None})  # not checked


def test_development_keeps_a_generated_secret_key_in_the_instance_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    config = {"UNIONFLOW_ENV": "development", "SQLALCHEMY_DATABASE_URI": "sqlite://",
              "INSTANCE_PATH": str(tmp_path)}
    first, second = create_app(config), create_app(config)
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert (tmp_path / "secret_key").read_text() == first.config["SECRET_KEY"]


def test_environment_names_the_database(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.example/uf")
    app = create_app({"UNIONFLOW_ENV": "testing"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/uf"


def test_unknown_environment_name_is_refused():
    with pytest.raises(RuntimeError, match="UNIONFLOW_ENV"):
        create_app({"UNIONFLOW_ENV": "prod"})


def test_security_headers_on_every_page(client):
    response = client.get("/auth/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers  # only in production


def test_pages_and_api_answers_are_not_kept_by_the_browser(login, api, demo):
    """A rest station's shared tablet: after one worker signs out, the next must not page
    back to their pages (name, phone, ID number) from the browser's cache."""
    assert api.client.get("/auth/login").headers["Cache-Control"] == "no-store"  # signed out
    client = login("rider1")
    for path in ("/", "/inbox", "/account"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert api("GET", "/me", "rider1").headers["Cache-Control"] == "no-store"
    static = client.get("/static/css/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")
    static.close()


def test_pages_load_bootstrap_from_this_server_not_a_cdn(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert "cdn" not in page.lower()
    css = [line for line in page.splitlines() if "bootstrap" in line and ".css" in line]
    assert css and all('href="/' in line for line in css)
    with client.get("/bootstrap/static/css/bootstrap.min.css") as response:
        assert response.status_code == 200


def test_unknown_page_is_a_friendly_404_in_chinese(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "找不到您要的页面" in response.get_data(as_text=True)


def test_an_unexpected_error_shows_no_traceback(app, client):
    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = client.get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "secret internals" not in body and "Traceback" not in body
    assert "服务器出了点问题" in body


def test_api_errors_use_the_json_error_shape(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert response.json["error"]["message"]


def test_schema_comes_from_migrations(app):
    from sqlalchemy import inspect

    from webapp.extensions import db

    assert "alembic_version" in inspect(db.engine).get_table_names()


def test_templates_carry_no_inline_styles_the_csp_would_block():
    """style-src 'self' blocks style="…" attributes: a width set that way never shows."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "webapp" / "templates"
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.html")
                 if 'style="' in p.read_text(encoding="utf-8")]
    assert not offenders


def _production(**extra):
    return create_app({"UNIONFLOW_ENV": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                       "EMBEDDED_WORKER": False, "SECRET_KEY": STRONG_KEY, **extra})


def test_the_proxy_is_trusted_for_client_and_scheme_not_for_host_or_prefix():
    """A client's own X-Forwarded-Prefix: /evil used to rewrite every link."""
    app = _production()

    @app.route("/where")
    def where():
        from flask import request, url_for

        return {"link": url_for("auth.login", _external=True), "addr": request.remote_addr}

    forged = {"X-Forwarded-Prefix": "/evil", "X-Forwarded-Host": "evil.example",
              "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    answer = app.test_client().get("/where", headers=forged).json
    assert answer == {"link": "https://localhost/auth/login", "addr": "203.0.113.9"}
    opted_in = _production(PROXY_FIX_HOST=True, PROXY_FIX_PREFIX=True)
    opted_in.add_url_rule("/where", view_func=where)
    answer = opted_in.test_client().get("/where", headers=forged).json
    assert answer["link"] == "https://evil.example/evil/auth/login"
