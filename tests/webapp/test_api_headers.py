"""The HTTP headers an error status promises a client: Allow with a 405, WWW-Authenticate
with a 401, Retry-After with a 429 — on API answers, and on pages where they apply."""
from __future__ import annotations

from tests.webapp.test_api import DEMO_PASSWORD, api, error_of  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401


def test_a_method_not_allowed_says_which_are(api, demo):
    wrong = api("PUT", "/me", "rider1")
    assert wrong.status_code == 405 and error_of(wrong)["code"] == "method_not_allowed"
    assert set(wrong.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
    assert "PUT" not in wrong.headers["Allow"]
    page = api.client.put("/auth/login")
    assert page.status_code == 405 and page.mimetype == "text/html"
    assert "POST" in page.headers["Allow"] and "GET" in page.headers["Allow"]


def test_an_api_401_names_the_bearer_scheme(api, demo):
    missing = api("GET", "/me")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    bad = api("GET", "/me", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    wrong = api.client.post("/api/v1/tokens", json={"username": "rider1", "password": "x"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"


def retry_after(response) -> int:
    seconds = int(response.headers["Retry-After"])
    assert seconds >= 1
    return seconds


def test_a_throttled_sign_in_says_when_to_try_again(api, demo):
    for _ in range(6):
        last = api.client.post("/api/v1/tokens", json={"username": "rider1", "password": "x"})
    assert last.status_code == 429
    assert retry_after(last) <= 5 * 60  # the 5-in-5-minutes window is the one spent


def test_too_many_tokens_says_when_to_try_again(app, api, demo):
    app.config["TOKEN_ISSUE_LIMITS"] = ("3 per hour",)
    for _ in range(4):
        last = api.client.post("/api/v1/tokens", json={"username": "driver1",
                                                       "password": DEMO_PASSWORD})
    assert last.status_code == 429
    assert 60 * 59 <= retry_after(last) <= 60 * 60
