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
    assert error["code"] == "password_change_required" and "网页" in error["message"]
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
