"""A person changes their own password: the temporary one an administrator handed over,
or one they fear someone saw.  Other sessions and API tokens end; this one goes on."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from webapp.extensions import db
from webapp.models import AuditEntry
from webapp.services import tokens
from webapp.services.users import authenticate

NEW = "a-new-horse-staple"


@pytest.fixture
def rider(org, make_user):
    return make_user("rider1", ("worker", org["company"]), unit=org["company"])


def sign_in(client, password=PASSWORD):
    r = client.post("/auth/login", data={"username": "rider1", "password": password})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return client


def change(client, current=PASSWORD, new=NEW, again=None, **headers):
    return client.post("/account/password", data={
        "current": current, "new": new, "again": new if again is None else again},
        headers=headers)


def field_errors(response) -> list[str]:
    return re.findall(r'invalid-feedback[^>]*>\s*([^<]*?)\s*<', response.get_data(as_text=True))


def test_the_account_page_leads_there_and_strangers_are_sent_to_sign_in(client, rider):
    assert client.get("/account/password").status_code == 302
    sign_in(client)
    assert 'href="/account/password"' in client.get("/account").get_data(as_text=True)
    page = client.get("/account/password").get_data(as_text=True)
    assert 'autocomplete="current-password"' in page and 'autocomplete="new-password"' in page


def test_a_changed_password_ends_every_other_session_and_token_not_this_one(app, client,
                                                                           rider):
    phone = sign_in(app.test_client())
    raw, _row = tokens.issue(rider)
    db.session.commit()
    sign_in(client)
    r = change(client)
    assert r.status_code == 302 and r.headers["Location"] == "/account"
    page = client.get("/account").get_data(as_text=True)
    assert "密码已修改" in page and "1 个 API 令牌已失效" in page
    assert client.get("/account").status_code == 200  # still signed in here
    assert phone.get("/account").status_code == 302  # the other device is signed out
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert authenticate("rider1", NEW) is not None and authenticate("rider1", PASSWORD) is None
    entry = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "user.password_change")).one()
    assert entry.actor_id == rider.id and entry.after == {"tokens_revoked": 1}
    assert NEW not in str(entry.before) + str(entry.after)


@pytest.mark.parametrize("current, new, again, field, message", [
    ("wrong-password", NEW, None, "current", "当前密码不正确。"),
    ("", NEW, None, "current", "请填写当前密码"),
    (PASSWORD, "short", None, "new", "密码至少 8 个字符"),
    (PASSWORD, "x" * 257, None, "new", "密码最多 256 个字符"),
    (PASSWORD, NEW, NEW + "!", "again", "两次输入的新密码不一致"),
    (PASSWORD, PASSWORD, None, "new", "新密码不能与当前密码相同。"),
])
def test_a_refused_change_says_why_by_its_field_and_changes_nothing(client, rider, current, new,
                                                                    again, field, message):
    sign_in(client)
    r = change(client, current, new, again)
    assert r.status_code == 422
    assert message in field_errors(r)
    assert re.search(rf'id="{field}"[^>]*is-invalid|is-invalid[^>]*id="{field}"',
                     r.get_data(as_text=True))
    assert authenticate("rider1", PASSWORD) is not None
    assert client.get("/account").status_code == 200  # nothing ended


def test_it_speaks_english_to_an_english_reader(client, rider):
    rider.locale = "en"
    db.session.commit()
    sign_in(client)
    r = change(client, current="wrong-password")
    assert "The current password is not right." in field_errors(r)
    assert "Change password" in r.get_data(as_text=True)


def test_guessing_the_current_password_is_limited_like_signing_in(app, client, rider):
    sign_in(client)
    for _ in range(5):  # the testing limit: 5 failures a name in 5 minutes
        assert change(client, current="wrong-password").status_code == 422
    r = change(client)  # the right one, too late
    assert r.status_code == 422 and "密码错误次数过多，请稍后再试。" in field_errors(r)
    assert authenticate("rider1", PASSWORD) is not None


def test_remember_me_on_this_device_survives_the_change(app, rider):
    """The device that changed it stays remembered (a new cookie); another device's
    remember-me cookie opens nothing any more."""
    here, there = app.test_client(), app.test_client()
    for device in (here, there):
        assert device.post("/auth/login", data={"username": "rider1", "password": PASSWORD,
                                                "remember": "y"}).status_code == 302
    old_cookie = there.get_cookie("remember_token").value
    assert change(here).status_code == 302
    assert here.get_cookie("remember_token").value != old_cookie
    for device in (here, there):  # the browser closed: only the cookie is left
        device.delete_cookie("session")
    assert here.get("/account").status_code == 200
    assert there.get("/account").status_code == 302
