"""The engine on the database: versions, instances, inbox, history, timers, notifications."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from webapp.demo import seed
from webapp.extensions import db
from webapp.models import (DefinitionVersion, HistoryEntry, Instance, Notification, Task,
                           Timer, User)
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code
from webapp.services.users import find_user
from workflows.errors import AlreadyDecided, Conflict, InvalidInput, NotAllowed
from workflows.runtime import Action

DEFINITIONS = Path(__file__).resolve().parents[2] / "workflows" / "definitions"
NOW = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def demo(app):
    from webapp.demo import seed_activities

    seed("demo-pass-2026")
    for path in wf.shipped_definitions():
        wf.publish_file(path)
    seed_activities(registrations=False)
    db.session.commit()
    return {name: find_user(name) for name in
            ("rider1", "courier1", "driver1", "station_head", "volunteer1", "volunteer2",
             "yuzhong_admin", "unit_admin", "city_admin")}


def wish_data(**changes):
    data = {"title": "一个新头盔", "category": "goods", "story": "电动车头盔摔坏了，想要一个新的",
            "budget": "80", "station": unit_by_code("st-jfb").id, "contact_name": "马超",
            "phone": "13800138000"}
    return {**data, **changes}


def open_task(instance, user=None) -> Task:
    query = select(Task).where(Task.instance_id == instance.id, Task.status == "open")
    return db.session.scalars(query).one()


def act(instance, kind, user, **kwargs):
    task = open_task(instance)
    result = wf.perform(instance.id, Action(kind, task=task.key, **kwargs), user, now=NOW)
    db.session.commit()
    return result


# ---------------------------------------------------------------- versions

def test_publishing_unchanged_text_makes_no_new_version(demo):
    path = DEFINITIONS / "micro_wish.yaml"
    again = wf.publish_file(path)
    assert not again.created and again.version.version == 1
    text = path.read_text(encoding="utf-8")
    # Comments and layout are not content.
    assert not wf.publish_text("# 注释\n" + text, "micro_wish.yaml").created
    changed = wf.publish_text(text.replace("name: 驿站核实", "name: 驿站站长核实"), "micro_wish.yaml")
    assert changed.created and changed.version.version == 2


def test_running_instance_stays_on_its_version_to_the_end(demo):
    rider, head = demo["rider1"], demo["station_head"]
    instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()
    first_version = instance.version_id
    text = (DEFINITIONS / "micro_wish.yaml").read_text(encoding="utf-8")
    # Version 2 puts a district check between the station and the wall.
    v2 = text.replace("next: {approve: wall, reject: rejected}",
                      "next: {approve: district_check, reject: rejected}").replace(
        "  wall:\n", "  district_check:\n    kind: approval\n    name: 区总工会复核\n"
        "    approvers: {role: district_admin, of: form.station.district}\n"
        "    actions: [approve, reject]\n    next: {approve: wall, reject: rejected}\n\n"
        "  wall:\n", 1)
    assert wf.publish_text(v2, "micro_wish.yaml").created
    db.session.commit()
    act(instance, "approve", head)
    assert instance.version_id == first_version
    assert instance.steps == "wall"  # version 1's path, not version 2's
    newer = wf.start_instance("micro_wish", demo["courier1"], wish_data(), now=NOW)
    db.session.commit()
    assert newer.version_id != first_version
    act(newer, "approve", head)
    assert newer.steps == "district_check"


def test_invalid_definition_is_refused_with_every_problem(demo):
    bad = "key: x\nname: y\nstart: {who: {role: worker}}\nsteps:\n  a: {kind: nope}\nends: {}\n"
    with pytest.raises(wf.DefinitionProblems) as err:
        wf.publish_text(bad, "x.yaml")
    assert any("unknown step kind 'nope'" in str(p) and p.line == 5 for p in err.value.problems)
    assert db.session.scalar(select(func.count()).select_from(DefinitionVersion)) == 5


def test_definition_naming_an_unknown_unit_is_refused_at_publish(demo):
    text = (DEFINITIONS / "micro_wish.yaml").read_text(encoding="utf-8").replace(
        "approvers: {role: station_head, of: form.station}",
        "approvers: {role: unit_admin, of: {code: no-such-unit}}")
    with pytest.raises(wf.DefinitionProblems) as err:
        wf.publish_text(text, "micro_wish.yaml")
    assert "no-such-unit" in str(err.value.problems)


# ---------------------------------------------------------------- micro-wish on the database

def test_micro_wish_main_path_on_the_database(demo):
    rider, head, vol1, vol2 = (demo[k] for k in ("rider1", "station_head", "volunteer1",
                                                  "volunteer2"))
    instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()
    assert instance.status == "running" and instance.steps == "verify"
    assert instance.title == "一个新头盔"
    assert [t.step for t in db.session.scalars(wf.assigned_tasks_query(head))] == ["verify"]
    assert db.session.scalars(wf.assigned_tasks_query(vol1)).all() == []
    assert _titles(head) == ["task_assigned"]

    act(instance, "approve", head)
    # On the wall: the 渝中区 volunteers may claim it; 江北区's may not; nobody is spammed.
    assert [t.step for t in db.session.scalars(wf.pool_tasks_query(vol1))] == ["wall"]
    assert db.session.scalars(wf.pool_tasks_query(vol2)).all() == []
    assert _titles(vol1) == []

    act(instance, "claim", vol1)
    assert instance.steps == "fulfil"
    assert db.session.scalars(wf.pool_tasks_query(vol1)).all() == []
    assert [t.step for t in db.session.scalars(wf.assigned_tasks_query(vol1))] == ["fulfil"]
    proof = {"proof": [{"key": "abc", "name": "helmet.jpg", "mime": "image/jpeg",
                        "size": 20000, "sha256": "0" * 64}]}
    act(instance, "complete", vol1, data=proof)
    act(instance, "complete", rider, data={"satisfied": "yes", "rating": 5})
    assert instance.status == "completed" and instance.closed_at is not None
    assert instance.active_key is None
    assert db.session.scalar(select(func.count()).select_from(Task).where(
        Task.instance_id == instance.id, Task.status == "open")) == 0

    actions = [h.action for h in db.session.scalars(
        select(HistoryEntry).where(HistoryEntry.instance_id == instance.id)
        .order_by(HistoryEntry.seq))]
    assert actions[0] == "submit" and "approve" in actions and "claim" in actions
    assert len(actions) == len(instance.state["history"])
    assert "ended" in _titles(rider) or "claimed" in _titles(rider)


def _titles(user: User) -> list[str]:
    return [n.kind for n in db.session.scalars(
        select(Notification).where(Notification.user_id == user.id).order_by(Notification.id))]


def test_refusals_leave_nothing_behind(demo):
    rider = demo["rider1"]
    with pytest.raises(InvalidInput) as err:
        wf.start_instance("micro_wish", rider, wish_data(phone="123"), now=NOW)
    assert "phone" in err.value.field_errors
    with pytest.raises(NotAllowed):
        wf.start_instance("micro_wish", demo["volunteer1"], wish_data(), now=NOW)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Instance)) == 0


def test_one_active_wish_per_worker_on_the_database(demo):
    rider = demo["rider1"]
    first = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()
    with pytest.raises(Conflict) as err:
        wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    assert err.value.code == "already_active"
    wf.perform(first.id, Action("withdraw"), rider, now=NOW)
    db.session.commit()
    assert first.status == "withdrawn"
    wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()


def test_reject_needs_a_reason_and_a_second_decision_is_refused(demo):
    rider, head = demo["rider1"], demo["station_head"]
    instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()
    task = open_task(instance)
    with pytest.raises(InvalidInput):
        wf.perform(instance.id, Action("reject", task=task.key, comment=" "), head, now=NOW)
    db.session.rollback()
    wf.perform(instance.id, Action("reject", task=task.key, comment="不属于微心愿范围"), head,
               now=NOW)
    db.session.commit()
    assert instance.status == "rejected"
    with pytest.raises(Conflict) as err:  # 409, with a reason a person understands
        wf.perform(instance.id, Action("approve", task=task.key), head, now=NOW)
    assert "已结束" in err.value.message("zh")


def test_stale_version_is_a_conflict(demo):
    rider, head = demo["rider1"], demo["station_head"]
    instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()
    seen = instance.lock_version
    wf.perform(instance.id, Action("comment", comment="已收到"), head, now=NOW)
    db.session.commit()
    with pytest.raises(Conflict):
        wf.perform(instance.id, Action("approve", task=open_task(instance).key,
                                       expected_version=seen), head, now=NOW)


def test_return_to_applicant_then_resubmit(demo):
    rider, head = demo["rider1"], demo["station_head"]
    instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()
    act(instance, "return", head, comment="请补充心愿故事", to="applicant")
    assert [t.step for t in db.session.scalars(wf.assigned_tasks_query(rider))]
    task = open_task(instance)
    wf.perform(instance.id, Action("resubmit", task=task.key,
                                   data=wish_data(story="电动车头盔摔坏了，每天送餐需要戴头盔")),
               rider, now=NOW)
    db.session.commit()
    assert instance.steps == "verify"
    assert instance.state["data"]["story"].startswith("电动车头盔摔坏了，每天")


# ---------------------------------------------------------------- timers

def test_timers_are_stored_and_fire_when_due(demo):
    rider = demo["rider1"]
    instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()
    timers = db.session.scalars(select(Timer).where(Timer.instance_id == instance.id)).all()
    purposes = {t.purpose for t in timers}
    assert {"remind", "escalate"} <= purposes and all(t.status == "pending" for t in timers)
    assert wf.fire_due_timers(NOW + timedelta(hours=1)) == 0
    fired = wf.fire_due_timers(NOW + timedelta(days=3))
    db.session.commit()
    assert fired == 1
    assert "reminder" in _titles(demo["station_head"])
    wf.fire_due_timers(NOW + timedelta(days=6))
    db.session.commit()
    assert "escalated" in _titles(demo["yuzhong_admin"])  # the station's district admin
    assert "escalated" not in _titles(demo["city_admin"])


def test_unclaimed_wish_expires_on_its_timer(demo):
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    act(instance, "approve", demo["station_head"])
    wf.fire_due_timers(NOW + timedelta(days=31))
    db.session.commit()
    assert instance.status == "expired"
    assert db.session.scalars(wf.pool_tasks_query(demo["volunteer1"])).all() == []


# ---------------------------------------------------------------- shared capacity
ROOM = """key: room_booking
name: 活动室预约
start: {who: anyone}
steps:
  seat: {kind: reserve, name: 占用名额, resource: "room:1", capacity: CAPACITY,
         next: {granted: wait}}
  wait: {kind: task, name: 等待, assignee: applicant, next: done}
ends: {done: completed}
"""


def test_a_new_versions_capacity_is_the_resources_and_promotes_the_waiting_first(demo):
    from webapp.models import CapacityResource

    wf.publish_text(ROOM.replace("CAPACITY", "2"), "room_booking.yaml")
    first = [wf.start_instance("room_booking", demo[name], {}, now=NOW)
             for name in ("rider1", "courier1", "driver1")]
    db.session.commit()
    assert [i.status for i in first] == ["running", "running", "waitlisted"]

    wf.publish_text(ROOM.replace("CAPACITY", "5"), "room_booking.yaml")
    newcomer = wf.start_instance("room_booking", demo["volunteer1"], {}, now=NOW)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Instance, first[2].id).status == "running"  # promoted, first
    assert db.session.get(Instance, newcomer.id).status == "running"
    assert "promoted" in db.session.scalars(select(Notification.kind).where(
        Notification.instance_id == first[2].id)).all()
    resource = db.session.get(CapacityResource, "room:1")
    assert (resource.capacity, resource.granted) == (5, 4)


def test_an_older_versions_capacity_does_not_undo_the_current_ones(demo):
    """A request still on version 1 that enters the step keeps version 2's number."""
    from webapp.models import CapacityResource

    gated = ROOM.replace("steps:\n", "steps:\n  ask: {kind: task, name: 填写, assignee: "
                         "applicant, next: seat}\n")
    wf.publish_text(gated.replace("CAPACITY", "1"), "room_booking.yaml")
    old = wf.start_instance("room_booking", demo["rider1"], {}, now=NOW)
    db.session.commit()
    wf.publish_text(gated.replace("CAPACITY", "3"), "room_booking.yaml")
    new = wf.start_instance("room_booking", demo["courier1"], {}, now=NOW)
    db.session.commit()
    act(new, "complete", demo["courier1"])
    assert db.session.get(CapacityResource, "room:1").capacity == 3
    act(old, "complete", demo["rider1"])
    assert db.session.get(CapacityResource, "room:1").capacity == 3
    assert old.status == "running" and old.steps == "wait"  # the second of three places
