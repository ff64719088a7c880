"""Sign-in, sign-out, sessions, CSRF and throttling, as a person meets them."""
from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD, AuthActions


@pytest.fixture
def rider(org, make_user):
    return make_user("rider1", ("worker", org["company"]), unit=org["company"], name="骑手 马超")


def test_sign_in_with_good_password_reaches_home(client, auth, rider):
    response = auth.login("rider1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "骑手 马超" in page


def test_username_is_case_insensitive(client, auth, rider):
    assert auth.login("RIDER1").status_code == 302


@pytest.mark.parametrize("username,password", [("rider1", "wrong-password"),
                                               ("nobody", PASSWORD), ("", "")])
def test_bad_sign_in_says_so_without_telling_who_exists(client, auth, rider, username, password):
    response = auth.login(username, password)
    assert response.status_code in (401, 422)
    body = response.get_data(as_text=True)
    assert "Traceback" not in body
    if username:
        assert "用户名或密码不正确" in body
    assert client.get("/").status_code == 302  # still signed out


def test_inactive_user_cannot_sign_in(client, auth, rider, app):
    from webapp.extensions import db

    rider.active = False
    db.session.commit()
    assert auth.login("rider1").status_code == 401


def test_home_needs_sign_in_and_comes_back_after(client, auth, rider):
    response = client.get("/account")
    assert response.status_code == 302
    assert "/auth/login?next=%2Faccount" in response.headers["Location"]
    response = auth.login("rider1", next="/account")
    assert response.headers["Location"] == "/account"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)", "\\\\evil",
                                    "http:/evil.example", "/%0d%0aLocation:x"])
def test_next_cannot_redirect_off_site(client, auth, rider, target):
    response = auth.login("rider1", next=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        assert location == target
    else:
        assert location == "/"


def test_logout_ends_the_session_even_for_a_copied_cookie(app, client, auth, rider):
    auth.login("rider1", remember="y")
    cookies = {c.key: c.value for c in client._cookies.values()}
    assert "session" in cookies and "remember_token" in cookies
    assert client.get("/").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/").status_code == 302

    thief = app.test_client()
    for name, value in cookies.items():
        thief.set_cookie(name, value)
    assert thief.get("/").status_code == 302  # the copied session no longer signs anyone in


def test_remember_me_survives_a_lost_session_cookie(app, client, auth, rider):
    auth.login("rider1", remember="y")
    remember = client.get_cookie("remember_token").value
    fresh = app.test_client()
    fresh.set_cookie("remember_token", remember)
    assert fresh.get("/").status_code == 200


def test_without_remember_me_no_remember_cookie(client, auth, rider):
    auth.login("rider1")
    assert client.get_cookie("remember_token") is None


def test_session_protection_is_strong(app):
    from webapp.extensions import login_manager

    assert login_manager.session_protection == "strong"


def test_repeated_failures_are_throttled_then_even_the_right_password_waits(client, auth, rider):
    for _ in range(5):
        assert auth.login("rider1", "wrong-password").status_code == 401
    response = auth.login("rider1", PASSWORD)
    assert response.status_code == 429
    assert "登录失败次数过多" in response.get_data(as_text=True)


def test_successful_sign_in_does_not_count_against_the_limit(client, auth, rider):
    for _ in range(8):
        assert auth.login("rider1").status_code == 302
        auth.logout()


def test_passwords_are_hashed(rider):
    assert PASSWORD not in rider.password_hash
    assert rider.password_hash.startswith(("scrypt:", "pbkdf2:"))


class TestCsrf:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "WTF_CSRF_ENABLED": True}

    def test_post_without_token_is_refused_with_a_clear_page(self, client, rider):
        response = client.post("/auth/login", data={"username": "rider1", "password": PASSWORD})
        assert response.status_code == 400
        assert "安全校验失败" in response.get_data(as_text=True)
        assert client.get("/").status_code == 302

    def test_logout_without_token_is_refused(self, client, rider):
        self._login(client)
        assert client.post("/auth/logout").status_code == 400
        assert client.get("/").status_code == 200  # still signed in

    def test_language_switch_without_token_is_refused(self, client):
        assert client.post("/auth/locale", data={"locale": "en"}).status_code == 400

    def test_post_with_token_works(self, client, rider):
        self._login(client)
        assert client.get("/").status_code == 200

    @staticmethod
    def _login(client):
        page = client.get("/auth/login").get_data(as_text=True)
        token = re.search(r'type="hidden" name="csrf_token" value="([^"]+)"', page).group(1)
        response = client.post("/auth/login", data={"username": "rider1", "password": PASSWORD,
                                                    "csrf_token": token})
        assert response.status_code == 302


# ------------------------------------------------------------------ idle sessions

class Clock:
    def __init__(self, monkeypatch):
        import webapp.auth.login as login_module

        self.now = 1_800_000_000
        monkeypatch.setattr(login_module, "_now", lambda: self.now)

    def advance(self, minutes: float) -> None:
        self.now += int(minutes * 60)


def test_a_session_left_idle_is_signed_out_and_comes_back_to_the_page(
        app, client, auth, rider, monkeypatch):
    """A rest station's shared tablet: whoever picks it up two hours after a rider walked
    away without signing out finds the sign-in page, not the rider's account."""
    clock = Clock(monkeypatch)
    assert app.config["SESSION_IDLE_MINUTES"] == 120
    auth.login("rider1")
    assert client.get("/").status_code == 200
    clock.advance(121)
    response = client.get("/account?tab=1")
    assert response.status_code == 302
    assert "/auth/login?next=" in response.location and "account" in response.location
    page = client.get(response.location).get_data(as_text=True)
    assert "分钟未操作" in page and "外卖骑手" not in page
    assert client.get("/account").status_code == 302  # still signed out
    assert client.get("/").status_code == 302
    # Signing in again leads back to the page.
    response = client.post(response.location, data={"username": "rider1",
                                                     "password": PASSWORD})
    assert response.status_code == 302 and response.location.endswith("/account?tab=1")


def test_activity_keeps_a_session_and_only_the_gap_counts(app, client, auth, rider,
                                                          monkeypatch):
    clock = Clock(monkeypatch)
    auth.login("rider1")
    for _ in range(5):  # ten hours of work, a page every 100 minutes
        clock.advance(100)
        assert client.get("/").status_code == 200
    app.config["SESSION_IDLE_MINUTES"] = 0  # turned off: never
    clock.advance(10_000)
    assert client.get("/").status_code == 200


def test_remember_me_and_the_api_are_not_signed_out_by_idleness(app, client, auth, rider,
                                                                monkeypatch):
    """"Remember me" is asked for on one's own phone; a bearer token has its own expiry
    (the API is not signed out even when the same browser's session went idle)."""
    clock = Clock(monkeypatch)
    auth.login("rider1", remember="y")
    clock.advance(600)
    assert client.get("/").status_code == 200

    other = app.test_client()  # no remember-me: a session that goes idle
    AuthActions(other).login("rider1")
    assert other.get("/").status_code == 200
    token = other.post("/api/v1/tokens", json={"username": "rider1",
                                               "password": PASSWORD}).get_json()["token"]
    clock.advance(600)
    assert other.get("/api/v1/me",
                     headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert other.get("/").status_code == 302  # the page is signed out


def test_a_stale_remember_me_cookie_does_not_keep_the_next_person_signed_in(
        app, client, auth, rider, make_user, org, monkeypatch):
    """Signing out deletes the remember-me cookie; one left from someone else (or from
    before a sign-out) does not spare the next person's session from the idle limit."""
    clock = Clock(monkeypatch)
    make_user("rider2", ("worker", org["company"]), unit=org["company"])
    auth.login("rider1", remember="y")
    stale = client.get_cookie("remember_token").value
    auth.logout()
    assert client.get_cookie("remember_token") is None
    client.set_cookie("remember_token", stale)  # as if it had stayed
    auth.login("rider2")
    assert client.get("/").status_code == 200
    clock.advance(121)
    assert client.get("/").status_code == 302


def test_an_idle_sign_out_keeps_the_language(app, client, auth, rider, monkeypatch):
    clock = Clock(monkeypatch)
    auth.login("rider1")
    client.post("/auth/locale", data={"locale": "en"})
    assert client.get("/").status_code == 200
    clock.advance(121)
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "You were signed out after 120 minutes without activity" in page


def test_an_idle_session_that_opens_the_sign_in_page_just_gets_it(app, client, auth, rider,
                                                                  monkeypatch):
    clock = Clock(monkeypatch)
    auth.login("rider1")
    assert client.get("/").status_code == 200
    clock.advance(121)
    assert client.get("/auth/login").status_code == 200  # no hop through a redirect
    assert client.get("/").status_code == 302
    assert auth.login("rider1").status_code == 302
    assert client.get("/").status_code == 200
