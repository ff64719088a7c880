"""Every answer carries a request id; a 500 shows it to the person as a reference they
can quote, and the log line of the error carries it (and who was signed in)."""
from __future__ import annotations

import logging

import pytest

from tests.conftest import PASSWORD


@pytest.fixture
def boom(app):
    @app.route("/boom")
    @app.route("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internals")


def test_every_answer_has_a_request_id_and_a_sane_incoming_one_is_kept(client):
    made = client.get("/auth/login").headers["X-Request-ID"]
    assert len(made) == 32 and made != client.get("/auth/login").headers["X-Request-ID"]
    kept = client.get("/healthz", headers={"X-Request-ID": "nginx-0123456789abcdef"})
    assert kept.headers["X-Request-ID"] == "nginx-0123456789abcdef"
    for hostile in ("<script>", "a b c d e f g h", "x" * 500):
        response = client.get("/healthz", headers={"X-Request-ID": hostile})
        assert response.headers["X-Request-ID"] != hostile


def test_a_500_page_shows_the_reference_and_the_log_line_has_it_and_the_user(
        app, client, boom, make_user, auth, caplog):
    user = make_user("rider_x")
    auth.login("rider_x", PASSWORD)
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom", headers={"X-Request-ID": "req-1234567890"})
    assert response.status_code == 500
    assert "错误编号：req-1234567890" in response.get_data(as_text=True)
    [line] = [r.getMessage() for r in caplog.records if "unhandled error" in r.getMessage()]
    assert "request req-1234567890" in line and f"user {user.id}" in line
    assert user.session_token not in line


def test_an_api_500_names_the_request_id(client, boom):
    response = client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.json["error"]["request_id"] == response.headers["X-Request-ID"]


def test_the_app_logs_at_info_where_nobody_configured_logging(app, monkeypatch):
    from webapp.logs import configure

    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    monkeypatch.setattr(app.logger, "level", logging.NOTSET)
    configure(app)
    assert app.logger.getEffectiveLevel() == logging.INFO


def test_under_gunicorn_its_handlers_and_level_are_used(app, monkeypatch):
    from webapp.logs import configure

    handler = logging.StreamHandler()
    gunicorn = logging.getLogger("gunicorn.error")
    monkeypatch.setattr(gunicorn, "handlers", [handler])
    monkeypatch.setattr(gunicorn, "level", logging.WARNING)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    monkeypatch.setattr(app.logger, "handlers", [])
    monkeypatch.setattr(app.logger, "propagate", True)
    configure(app)
    assert app.logger.handlers == [handler] and app.logger.level == logging.WARNING


def test_the_console_mail_backend_logs_each_message_at_info(app, caplog):
    from types import SimpleNamespace

    from webapp.services import outbox

    app.config["MAIL_BACKEND"] = "console"
    delivery = SimpleNamespace(id=7, target="a@example.cn", subject="审批通过", body="正文")
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        outbox.send_email(delivery)
    assert any(r.levelno == logging.INFO and "a@example.cn" in r.getMessage()
               for r in caplog.records)
