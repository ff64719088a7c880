"""A sign-up on a waiting list says its place in the queue — on the request's page, in
the person's list and in the API — counted in the order places are given."""
from __future__ import annotations

from sqlalchemy import event

from tests.webapp.test_api import Api
from tests.webapp.test_course_admin import course_form
from tests.webapp.test_pages import errors, login  # noqa: F401
from tests.webapp.test_training import course_named, register
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Instance

EVERYONE = ["delivery", "courier", "ride_hailing"]


def full_course(login, title: str):
    """A one-seat course open to the three trainees."""
    page = login("unit_admin").post("/courses/new", data=course_form(
        title=title, capacity="1", occupations=EVERYONE))
    assert page.status_code == 302, errors(page)
    return course_named(title)


def progress(client, instance_id: int) -> str:
    return client.get(f"/instances/{instance_id}").get_data(as_text=True)


def test_the_waiting_list_says_each_ones_place_as_it_moves(login, demo, client):
    course = full_course(login, "叉车司机安全操作培训")
    seated = register(login, "rider1", course)
    second = register(login, "courier1", course)
    third = register(login, "driver1", course)
    db.session.expire_all()
    assert db.session.get(Instance, third).status == "waitlisted"
    assert "候补第 1 位，候补至 " in progress(login("courier1"), second)
    assert "候补第 2 位，候补至 " in progress(login("driver1"), third)
    assert "候补第" not in progress(login("rider1"), seated)
    # ... in the person's own list too, and in English.
    assert "候补第 2 位" in login("driver1").get("/requests").get_data(as_text=True)
    client.post("/auth/locale", data={"locale": "en"})
    assert "No. 2 on the waiting list until " in progress(client, third)
    client.post("/auth/locale", data={"locale": "zh_CN"})

    # The seat is given back: the first waiting takes it, the next moves up.
    assert login("rider1").post(f"/instances/{seated}/withdraw").status_code == 302
    db.session.expire_all()
    assert db.session.get(Instance, second).status == "running"
    assert "候补第" not in progress(login("courier1"), second)
    assert "候补第 1 位" in progress(login("driver1"), third)


def test_leaving_the_waiting_list_moves_the_ones_behind_up(login, demo):
    course = full_course(login, "叉车司机安全操作培训")
    register(login, "rider1", course)
    second = register(login, "courier1", course)
    third = register(login, "driver1", course)
    assert login("courier1").post(f"/instances/{second}/withdraw").status_code == 302
    assert "候补第 1 位" in progress(login("driver1"), third)


def test_the_api_answers_the_place_and_reads_a_pages_places_at_once(login, demo, client):
    first, other = full_course(login, "叉车司机安全操作培训"), full_course(login, "育婴员提高班")
    seats = [register(login, "courier1", course) for course in (first, other)]
    for course in (first, other):
        register(login, "driver1", course)
    waiting = [register(login, "rider1", course) for course in (first, other)]
    client.post("/auth/logout")
    api = Api(client)

    one = api("GET", f"/instances/{waiting[0]}", "rider1").get_json()
    assert (one["waitlisted"], one["waiting_position"]) == (True, 2)
    seat = api("GET", f"/instances/{seats[0]}", "courier1").get_json()
    assert (seat["waitlisted"], seat["waiting_position"]) == (False, None)

    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    api.token("rider1")
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        listed = api("GET", "/instances", "rider1").get_json()["items"]
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert {i["id"]: i["waiting_position"] for i in listed} == {waiting[0]: 2, waiting[1]: 2}
    # One query for the page's places, not one a request.
    assert len([s for s in seen if "FROM reservations" in s]) == 1, seen
