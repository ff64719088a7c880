"""Sessions and guessing: a session planted before sign-in is worth nothing after it,
cookies carry the right flags, and password guessing is throttled — on the sign-in page
and on the API's token issue — until the window has really passed.

(Sign-out ending every copy of a session is in tests/webapp/test_auth.py.)
"""
from __future__ import annotations

import time
import types

import pytest

from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp import create_app
from webapp.extensions import db

PASSWORD = "demo-pass-2026"


@pytest.fixture
def app_config(app_config):
    # The limiter's memory storage, so the test can move its clock past the window.
    return {**app_config, "RATELIMIT_STORAGE_URI": "memory://"}


@pytest.fixture
def clock(monkeypatch):
    """Moves the rate limiter's idea of now forward; everything else keeps real time."""
    import limits.storage.memory as memory

    offset = {"seconds": 0.0}
    fake = types.SimpleNamespace(**{name: getattr(time, name) for name in dir(time)
                                    if not name.startswith("_")})
    fake.time = lambda: time.time() + offset["seconds"]
    monkeypatch.setattr(memory, "time", fake)

    def advance(seconds: float) -> None:
        offset["seconds"] += seconds
    return advance


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def sign_in(client, username, password=PASSWORD, **extra):
    return client.post("/auth/login", data={"username": username, "password": password,
                                            **extra})


def test_a_session_planted_before_sign_in_is_replaced_and_stays_anonymous(app, client, demo):
    # The attacker's browser gets a session (choosing a language makes one) and plants
    # its cookie in the victim's browser.
    attacker = app.test_client()
    attacker.post("/auth/locale", data={"locale": "en", "next": "/"})
    planted = session_cookie(attacker)
    assert planted
    client.set_cookie("session", planted)
    assert sign_in(client, "rider1").status_code == 302
    assert session_cookie(client) != planted
    assert client.get("/").status_code == 200
    # The planted cookie signs nobody in.
    assert attacker.get("/").status_code == 302
    stale = app.test_client()
    stale.set_cookie("session", planted)
    assert stale.get("/account").status_code == 302


def test_signing_in_as_someone_else_leaves_nothing_of_the_first_session(client, demo):
    assert sign_in(client, "rider1").status_code == 302
    first = session_cookie(client)
    client.post("/auth/logout")
    assert sign_in(client, "courier1").status_code == 302
    assert session_cookie(client) != first
    assert "快递员" in client.get("/account").get_data(as_text=True)


def test_sign_out_is_a_post_so_no_link_or_image_can_sign_someone_out(client, demo):
    sign_in(client, "rider1")
    assert client.get("/auth/logout").status_code == 405
    assert client.get("/").status_code == 200


def _set_cookies(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


def test_cookies_are_httponly_samesite_and_secure_in_production(app_config, demo, client):
    answer = sign_in(client, "rider1", remember="y")
    cookies = _set_cookies(answer)
    for name in ("session", "remember_token"):
        assert "HttpOnly" in cookies[name] and "SameSite=Lax" in cookies[name], cookies[name]
    # No job thread and no sweeper: they would outlive this test and, on the shared
    # PostgreSQL database, deliver later tests' mail with this app's settings.
    production = create_app({**app_config, "UNIONFLOW_ENV": "production",
                             "SECRET_KEY": "production-session-key-0123456789",
                             "TESTING": True,
                             "EMBEDDED_WORKER": False, "EMBEDDED_WORKER_AUTOSTART": False,
                             "SWEEP_INTERVAL": None})
    with production.app_context():
        secure = production.test_client()
        answer = secure.post("/auth/login", data={"username": "rider1", "password": PASSWORD,
                                                  "remember": "y"},
                             base_url="https://union.example")
        assert answer.status_code in (302, 400)  # 400: production keeps CSRF on
        if answer.status_code == 400:  # then the sign-in page's own cookie shows the flags
            answer = secure.get("/auth/login", base_url="https://union.example")
        for header in answer.headers.getlist("Set-Cookie"):
            assert "Secure" in header and "HttpOnly" in header, header
        assert answer.headers.getlist("Set-Cookie")
        assert "max-age" in answer.headers["Strict-Transport-Security"]
        db.session.remove()
        db.engine.dispose()


def test_sign_in_guessing_is_throttled_by_address_and_by_name_until_the_window_passes(
        app, client, demo, clock):
    # A rest station's shared tablet (one address): one rider's typos lock out that
    # rider's name only; the next person at the tablet signs in.
    for _ in range(5):
        assert sign_in(client, "rider1", "guess").status_code == 401
    locked = sign_in(client, "rider1")
    assert locked.status_code == 429
    # The page says how long to wait in the header too (seconds, at most the window).
    assert 1 <= int(locked.headers["Retry-After"]) <= 300
    assert sign_in(client, "courier1").status_code == 302
    client.post("/auth/logout")
    # One address guessing through many names is stopped at the address's allowance ...
    allowance = 12
    assert app.config["LOGIN_ADDRESS_FAILURE_LIMITS"] == (f"{allowance} per 5 minutes",)
    names = ["driver1", "volunteer1", "volunteer2", "unit_admin", "supervisor", "admin"]
    for n in range(allowance - 5):
        assert sign_in(client, names[n % len(names)], "guess").status_code == 401
    blocked = sign_in(client, "station_head")
    assert blocked.status_code == 429
    assert "登录失败次数过多" in blocked.get_data(as_text=True)
    # ... and many addresses trying one name.
    for n in range(5):
        client.post("/auth/login", data={"username": "unit_admin", "password": "guess"},
                    environ_base={"REMOTE_ADDR": f"10.0.0.{n + 1}"})
    other_address = client.post("/auth/login", data={"username": "unit_admin",
                                                     "password": PASSWORD},
                                environ_base={"REMOTE_ADDR": "10.0.9.9"})
    assert other_address.status_code == 429  # the right password waits too
    clock(4 * 60)
    assert sign_in(client, "station_head").status_code == 429  # not yet
    clock(2 * 60)
    assert sign_in(client, "station_head").status_code == 302
    client.post("/auth/logout")
    assert client.post("/auth/login", data={"username": "unit_admin", "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "10.0.9.9"}).status_code == 302


def test_token_guessing_is_throttled_with_a_clear_answer_until_the_window_passes(
        client, demo, clock):
    def ask(password, addr="10.1.0.1"):
        return client.post("/api/v1/tokens", json={"username": "rider1", "password": password},
                           environ_base={"REMOTE_ADDR": addr})
    answers = [ask("guess").status_code for _ in range(5)]
    assert answers == [401] * 5
    refused = ask(PASSWORD, addr="10.1.0.2")
    assert refused.status_code == 429
    error = refused.get_json()["error"]
    assert error["code"] == "too_many_requests" and error["message"]
    clock(6 * 60)
    assert ask(PASSWORD, addr="10.1.0.2").status_code == 201
