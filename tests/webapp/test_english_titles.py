"""A request titled from choices and stations (a demand: "停车难 · 解放碑…") is listed in
English on the English pages, in the API and in e-mails — a title the applicant typed
(a wish's) reads the same in both."""
from __future__ import annotations

from markupsafe import escape
from sqlalchemy import update

from webapp.extensions import db
from webapp.models import Instance
from webapp.services.org import unit_by_code
from tests.webapp.test_pages import login, submit_wish  # noqa: F401
from tests.webapp.test_reports import T0, demand
from tests.webapp.test_workflow_service import demo  # noqa: F401


def english(client, path: str) -> str:
    page = client.post("/auth/locale", data={"locale": "en", "next": path},
                       follow_redirects=True).get_data(as_text=True)
    client.post("/auth/locale", data={"locale": "zh_CN", "next": "/"})
    return page


def test_a_demand_is_titled_in_both_languages_and_listed_in_the_reader_s(login, demo):
    made = demand("rider1", "st-jfb", "parking", T0)
    made_id, title, title_en = made.id, made.title, made.title_en
    station = unit_by_code("st-jfb")
    assert title == f"停车难 · {station.name}"
    assert title_en == f"Parking · {station.label('en')}" != title
    assert station.label("en") == "Jiefangbei Outdoor Workers' Rest Station"  # the demo's
    shown = str(escape(title_en))  # as the page writes it (Workers&#39;)
    rider = login("rider1")
    mine = english(rider, "/requests")
    assert shown in mine and title not in mine
    assert title in rider.get("/requests").get_data(as_text=True)
    page = english(rider, f"/instances/{made_id}")
    assert f'<h1 class="h4 mb-1">{shown}</h1>' in page
    admin = login("yuzhong_admin")
    assert shown in english(admin, "/admin/instances")
    assert shown in english(admin, "/admin/instances?q=Parking")  # found by it too


def test_a_typed_title_is_kept_as_typed(login, demo):
    instance_id = submit_wish(login("rider1"))
    wish = db.session.get(Instance, instance_id)
    assert wish.title == "一个新头盔" and wish.title_en is None
    assert "一个新头盔" in english(login("rider1"), f"/instances/{instance_id}")


def test_the_api_answers_the_title_in_the_caller_s_language(client, demo):
    from tests.webapp.test_api import Api

    made = demand("rider1", "st-jfb", "parking", T0)
    api = Api(client)
    zh = api("GET", f"/instances/{made.id}", "rider1").get_json()
    en = api("GET", f"/instances/{made.id}", "rider1",
             headers={"Accept-Language": "en"}).get_json()
    assert (zh["title"], en["title"]) == (made.title, made.title_en)


def test_retitle_gives_older_requests_their_english_titles(app, demo):
    made = demand("rider1", "st-jfb", "parking", T0)
    made_id, expected = made.id, made.title_en
    db.session.execute(update(Instance).values(title_en=None))  # as before the upgrade
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["workflows", "retitle"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Instance, made_id).title_en == expected


def test_an_english_reader_s_mail_names_the_request_in_english(app, demo):
    from webapp.services.outbox import _email_body

    made = demand("rider1", "st-jfb", "parking", T0)
    body = _email_body("New task", made, "en")
    assert f"Request: {made.title_en} #{made.id}" in body
    assert f"事项：{made.title} #{made.id}" in _email_body("新待办", made, "zh")
