"""When a message stops counting as unread: its task handled, or its request opened.

QA on phones: rider1's unread count reached 13; volunteer1 still had "您有一项待办：
微心愿·实现心愿" unread for a wish already fulfilled and for one withdrawn."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tests.webapp.test_api import api, wish  # noqa: F401
from tests.webapp.test_pages import login, submit_wish, task_id_of  # noqa: F401
from tests.webapp.test_workflow_service import NOW, act, demo, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.models import Instance, Notification, Task
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code
from workflows.runtime import Action


def notes(instance_id: int) -> dict[tuple[str, str], object]:
    """{(username, kind): read_at} of the request's notifications."""
    from webapp.models import User

    db.session.expire_all()
    rows = db.session.execute(select(User.username, Notification.kind, Notification.read_at)
                              .join(User, User.id == Notification.user_id)
                              .where(Notification.instance_id == instance_id))
    found = {}
    for username, kind, read_at in rows:
        assert (username, kind) not in found, (username, kind)
        found[(username, kind)] = read_at
    return found


def started(demo):
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    return db.session.get(Instance, instance.id)


def test_a_task_message_is_read_once_its_task_is_decided(demo):
    instance = started(demo)
    assert notes(instance.id) == {("station_head", "task_assigned"): None}
    act(instance, "approve", demo["station_head"], comment="情况属实")
    # Done with, by the step that closed the task; the applicant's news stays unread.
    assert notes(instance.id) == {("station_head", "task_assigned"): NOW,
                                  ("rider1", "step_entered"): None}


def test_a_withdrawal_is_news_to_the_holder_and_their_task_message_is_done(demo):
    instance = started(demo)
    wf.perform(instance.id, Action("withdraw"), demo["rider1"], now=NOW)
    db.session.commit()
    # Nothing to the applicant (they withdrew it); the head's task is gone.
    assert notes(instance.id) == {("station_head", "task_assigned"): NOW,
                                  ("station_head", "withdrawn"): None}


def test_reminders_and_escalations_are_done_with_the_decision(demo):
    instance = started(demo)
    later = NOW + timedelta(days=6)
    wf.fire_due_timers(NOW + timedelta(days=3))
    wf.fire_due_timers(later)
    db.session.commit()
    before = notes(instance.id)
    assert {k for k, v in before.items() if v is None} == {
        ("station_head", "task_assigned"), ("station_head", "reminder"),
        ("yuzhong_admin", "escalated")}
    act(instance, "reject", demo["yuzhong_admin"], comment="不符合条件")
    after = notes(instance.id)
    # Decided by the district for the step: the head's messages are done with too.
    assert after == {("station_head", "task_assigned"): NOW, ("station_head", "reminder"): NOW,
                     ("yuzhong_admin", "escalated"): NOW, ("rider1", "ended"): None}


def test_a_task_handed_on_is_done_for_the_one_who_handed_it(demo, make_user):
    instance = started(demo)
    station = unit_by_code("st-jfb")  # a deputy appointed after the wish came in
    deputy = make_user("station_head2", ("station_head", station), unit=station)
    instance = db.session.get(Instance, instance.id)
    task = db.session.scalar(select(Task.key).where(Task.instance_id == instance.id))
    wf.perform(instance.id, Action("delegate", task=task, user=deputy.id), demo["station_head"],
               now=NOW)
    db.session.commit()
    assert notes(instance.id) == {("station_head", "task_assigned"): NOW,
                                  ("station_head2", "task_assigned"): None}
    act(instance, "approve", deputy)
    assert notes(instance.id)[("station_head2", "task_assigned")] == NOW


def test_a_wall_nobody_claimed_is_done_for_the_district_once_claimed(demo):
    instance = started(demo)
    act(instance, "approve", demo["station_head"])
    wf.fire_due_timers(NOW + timedelta(days=15))  # 14 days on the wall: the district is told
    db.session.commit()
    assert notes(instance.id)[("yuzhong_admin", "escalated_watch")] is None
    wf.perform(instance.id, Action("claim"), demo["volunteer1"], now=NOW + timedelta(days=16))
    db.session.commit()
    found = notes(instance.id)
    assert found[("yuzhong_admin", "escalated_watch")] == NOW + timedelta(days=16)
    # The claimer's own task is on their list, not in a message of their own doing.
    assert ("volunteer1", "task_assigned") not in found
    assert found[("rider1", "claimed")] is None


def _unread(client) -> int:
    found = re.search(r'id="unread-count">(\d+)<', client.get("/").get_data(as_text=True))
    return int(found.group(1)) if found else 0


def test_opening_a_request_reads_its_messages_and_only_its(login, demo):
    first = submit_wish(login("rider1"))
    head = login("station_head")
    head.post(f"/tasks/{task_id_of(first)}", data={"action": "approve"})
    # A second request of someone else's waits for the head.
    second = submit_wish(login("courier1"))
    rider = login("rider1")
    assert _unread(rider) == 1  # "微心愿 已进入：心愿墙待认领"
    assert rider.get(f"/instances/{first}").status_code == 200
    assert _unread(rider) == 0
    assert notes(first)[("rider1", "step_entered")] is not None
    head = login("station_head")
    assert _unread(head) == 1
    # The task's page (from the 待办 list) reads it too, without deciding anything.
    assert head.get(f"/tasks/{task_id_of(second)}").status_code == 200
    assert _unread(head) == 0
    assert notes(second) == {("station_head", "task_assigned"): notes(second)[
        ("station_head", "task_assigned")]} and notes(second)[
        ("station_head", "task_assigned")] is not None
    # Someone who may not see the request reads nothing by trying.
    assert login("courier1").get(f"/instances/{first}").status_code == 404


def test_the_apis_answer_for_a_request_reads_its_messages_as_the_page_does(api, demo):
    r = api("POST", "/processes/micro_wish/instances", "rider1", json={"data": wish()})
    instance_id, task = r.get_json()["id"], r.get_json()["tasks"][0]["id"]
    listed = api("GET", "/notifications?unread=1", "station_head").get_json()
    assert [(n["kind"], n["read"]) for n in listed["items"]] == [("task_assigned", False)]
    assert api("GET", f"/instances/{instance_id}", "station_head").status_code == 200
    assert api("GET", "/notifications?unread=1", "station_head").get_json()["items"] == []
    assert [n["read"] for n in api("GET", "/notifications", "station_head")
            .get_json()["items"]] == [True]
    # Deciding through the API reads the task's message of someone who never opened it.
    r = api("POST", f"/tasks/{task}/complete", "station_head", json={"action": "approve"})
    assert r.status_code == 200
    assert [(n["kind"], n["read"]) for n in api("GET", "/notifications", "rider1")
            .get_json()["items"]] == [("step_entered", False)]
