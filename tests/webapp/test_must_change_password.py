"""A password an administrator set (a new account, an import, a reset) has been seen by
that administrator: its holder must set their own before using the pages, and the API
gives them no token until then."""
from __future__ import annotations

from sqlalchemy import select

from tests.conftest import PASSWORD
from webapp.extensions import db
from webapp.models import User
from webapp.services import people
from webapp.services.people_import import import_people

OWN = "my-own-horse-staple"


def _sign_in(client, username, password):
    r = client.post("/auth/login", data={"username": username, "password": password})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]


def _token(client, username, password):
    return client.post("/api/v1/tokens", json={"username": username, "password": password})


def _new_account(org, admin=None):
    user, password = people.add_user(admin, username="newrider", display_name="新骑手",
                                     unit=org["company"], role="worker")
    db.session.commit()
    return user, password


def test_a_new_account_must_set_its_own_password_before_anything_else(client, org):
    user, temporary = _new_account(org)
    assert user.must_change_password
    _sign_in(client, "newrider", temporary)
    for page in ("/", "/inbox", "/processes", "/account", "/notifications"):
        r = client.get(page)
        assert r.status_code == 302 and r.headers["Location"] == "/account/password", page
    # A form sent anyway goes nowhere but to the same page.
    assert client.post("/account/notifications").headers["Location"] == "/account/password"
    page = client.get("/account/password").get_data(as_text=True)
    assert "管理员设置的临时密码" in page and "取消" not in page
    # Signing out and the language switch still work.
    assert client.post("/auth/locale", data={"locale": "en"}).status_code == 302
    r = client.post("/account/password", data={"current": temporary, "new": OWN, "again": OWN})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get("/account/password").get_data(as_text=True).count("alert-warning") == 0
    db.session.expire_all()
    assert not db.session.get(User, user.id).must_change_password


def test_the_api_gives_no_token_for_a_temporary_password(client, org):
    _user, temporary = _new_account(org)
    r = _token(client, "newrider", temporary)
    assert r.status_code == 403
    error = r.get_json()["error"]
    assert error["code"] == "password_change_required" and "新密码" in error["message"]
    assert "fields" not in error
    # A wrong password still gets the usual 401: the 403 tells nothing to a guesser.
    assert _token(client, "newrider", "not-the-password").status_code == 401
    _sign_in(client, "newrider", temporary)
    client.post("/account/password", data={"current": temporary, "new": OWN, "again": OWN})
    assert _token(client, "newrider", OWN).status_code == 201


def test_a_reset_by_an_administrator_asks_again_but_a_seeded_account_does_not(client, org,
                                                                           make_user):
    admin = make_user("cityadmin", ("city_admin", org["city"]), unit=org["city"])
    rider = make_user("rider1", ("worker", org["company"]), unit=org["company"])
    assert not rider.must_change_password  # made as seed-demo and `flask create-user` do
    _sign_in(client, "rider1", PASSWORD)
    assert client.get("/").status_code == 200
    temporary = people.reset_password(admin, rider)
    db.session.commit()
    assert rider.must_change_password
    client.post("/auth/logout")
    _sign_in(client, "rider1", temporary)
    assert client.get("/inbox").headers["Location"] == "/account/password"
    assert _token(client, "rider1", temporary).status_code == 403


def test_the_administrators_new_account_page_and_an_import_mark_it_too(client, org, make_user):
    admin = make_user("cityadmin", ("city_admin", org["city"]), unit=org["city"])
    report = import_people(
        ("username,display_name,unit,role\n"
         f"imported1,导入一,{org['company'].code},worker\n").encode(), admin, dry_run=False)
    db.session.commit()
    assert report.created, report
    assert db.session.scalar(select(User.must_change_password).where(
        User.username == "imported1"))
    _sign_in(client, "cityadmin", PASSWORD)
    r = client.post("/admin/users/new", data={
        "username": "webmade", "display_name": "网页建的", "unit": org["company"].code,
        "role": "worker", "locale": "zh_CN"})
    assert r.status_code == 200, r.status_code
    assert db.session.scalar(select(User.must_change_password).where(
        User.username == "webmade"))


def test_the_app_sets_its_own_password_when_asking_for_a_token(client, org):
    """A rider whose account was imported uses only the app: the token request carries
    the new password, and no web page is needed."""
    user, temporary = _new_account(org)
    # A guesser learns nothing and changes nothing: a wrong password is the usual 401.
    r = client.post("/api/v1/tokens", json={"username": "newrider", "password": "wrong-one-1",
                                            "new_password": OWN})
    assert r.status_code == 401
    r = client.post("/api/v1/tokens", json={"username": "newrider", "password": temporary,
                                            "new_password": "short"})
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"] == {"new_password": ["密码至少 8 个字符"]}
    r = client.post("/api/v1/tokens", json={"username": "newrider", "password": temporary,
                                            "new_password": temporary},
                    headers={"Accept-Language": "en"})
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"] == {
        "new_password": ["The new password must differ from the current one."]}
    db.session.expire_all()
    assert db.session.get(User, user.id).must_change_password  # nothing changed yet
    r = client.post("/api/v1/tokens", json={"username": "newrider", "password": temporary,
                                            "new_password": OWN})
    assert r.status_code == 201, r.get_data(as_text=True)
    token = r.get_json()["token"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 200
    db.session.expire_all()
    assert not db.session.get(User, user.id).must_change_password
    assert _token(client, "newrider", temporary).status_code == 401
    assert _token(client, "newrider", OWN).status_code == 201


def test_a_signed_in_caller_changes_the_password_and_gets_a_new_token(client, org, make_user):
    make_user("rider9", ("worker", org["company"]))
    first = _token(client, "rider9", PASSWORD).get_json()["token"]
    other = _token(client, "rider9", PASSWORD).get_json()["token"]  # another phone
    auth = {"Authorization": f"Bearer {first}"}
    r = client.post("/api/v1/me/password", json={"password": "not-mine-at-all",
                                                 "new_password": OWN}, headers=auth)
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"] == {"password": ["当前密码不正确。"]}
    r = client.post("/api/v1/me/password", json={"password": PASSWORD}, headers=auth)
    assert r.status_code == 422 and "new_password" in r.get_json()["error"]["fields"]
    r = client.post("/api/v1/me/password", json={"password": PASSWORD, "new_password": OWN,
                                                 "again": OWN}, headers=auth)
    assert r.status_code == 422 and "again" in r.get_json()["error"]["fields"]
    assert _token(client, "rider9", PASSWORD).status_code == 201  # still the old password
    r = client.post("/api/v1/me/password", json={"password": PASSWORD, "new_password": OWN},
                    headers=auth)
    assert r.status_code == 200, r.get_data(as_text=True)
    fresh = r.get_json()["token"]
    assert r.get_json()["expires_at"]
    # Every earlier token ends (a lost phone); the new one works.
    for old in (first, other):
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {old}"}
                          ).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}
                      ).status_code == 200
    assert _token(client, "rider9", PASSWORD).status_code == 401
    assert _token(client, "rider9", OWN).status_code == 201
    assert client.post("/api/v1/me/password", json={"password": OWN, "new_password": PASSWORD}
                       ).status_code == 401


def test_guessing_the_current_password_through_the_api_is_limited(client, org, make_user):
    make_user("rider8", ("worker", org["company"]))
    token = _token(client, "rider8", PASSWORD).get_json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    statuses = [client.post("/api/v1/me/password", json={"password": f"guess-{i}-xx",
                                                         "new_password": OWN},
                            headers=auth).status_code for i in range(12)]
    assert statuses[0] == 422 and statuses[-1] == 429
    r = client.post("/api/v1/me/password", json={"password": PASSWORD, "new_password": OWN},
                    headers=auth)
    assert r.status_code == 429 and r.headers.get("Retry-After")
