"""Each shipped process driven to its end through the JSON API alone, by the demo users
the tasks are given to (waiting periods pass by the timers), as the apps will do it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from tests.webapp.test_api import Api, api, error_of  # noqa: F401
from tests.webapp.test_pages import login  # noqa: F401
from tests.webapp.test_training import end_the_course, marks, move_into_the_past
from tests.webapp.test_union_processes import id_card
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Course, DutySlot, Instance, RetreatBatch, Task, TaskAssignee, User
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code


def start(api: Api, who: str, key: str, data: dict) -> int:
    r = api("POST", f"/processes/{key}/instances", who, json={"data": data})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def drive(api: Api, instance_id: int, answers: dict, max_steps: int = 20) -> dict:
    """Complete each open task as the person holding it (found through GET /tasks)."""
    clock = datetime.now(timezone.utc)
    for _ in range(max_steps):
        db.session.expire_all()
        instance = db.session.get(Instance, instance_id)
        if instance.closed_at is not None:
            return api("GET", f"/instances/{instance_id}", instance.applicant.username).get_json()
        task = db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                    Task.status == "open", Task.kind != "timer"))
        if task is None or task.step not in answers:
            clock += timedelta(days=70)
            wf.fire_due_timers(clock)
            db.session.commit()
            continue
        who = db.session.scalar(select(User.username).join(
            TaskAssignee, TaskAssignee.user_id == User.id).where(TaskAssignee.task_id == task.id)
            .order_by(User.id))
        listed = api("GET", "/tasks?scope=mine&per_page=100", who).get_json()["items"]
        mine = next(t for t in listed if t["id"] == task.id)
        assert mine["form"]["fields"] is not None
        r = api("POST", f"/tasks/{task.id}/complete", who, json=answers[task.step])
        assert r.status_code == 200, (task.step, r.get_json())
    raise AssertionError("the instance did not end")


def test_worker_demand_through_the_api(api, demo):
    instance_id = start(api, "rider1", "worker_demand", {
        "category": "parking", "station": unit_by_code("st-jfb").id,
        "location": "解放碑步行街东口", "phone": "13800138000",
        "description": "送餐高峰期电动车没有地方停，经常被贴条，希望增加临时停车位。"})
    dispatch = db.session.scalar(select(Task.id).where(Task.instance_id == instance_id))
    missing = api("POST", f"/tasks/{dispatch}/complete", "yuzhong_admin",
                  json={"action": "approve", "data": {}})
    assert missing.status_code == 422 and "responsible_unit" in error_of(missing)["fields"]
    done = drive(api, instance_id, {
        "dispatch": {"action": "approve", "data": {
            "responsible_unit": unit_by_code("cq-yz-jfb").id, "dispatch_note": "请三日内签收"}},
        "acknowledge": {"action": "complete", "data": {"handler_name": "赵丽"}},
        "answer": {"action": "complete", "data": {"answer": "已协调城管在东口划设 20 个临时停车位。"}},
        "rate": {"action": "complete", "data": {"result": "satisfied", "rating": 5}},
    })
    assert done["status"] == "completed"
    assert [h["action"] for h in done["history"]][0] == "submit"


def test_training_registration_through_the_api(api, login, demo):
    course = db.session.scalar(select(Course).where(Course.title == "电工技能提升班"))
    data = {"course": course.id, "real_name": "马超", "occupation": "delivery",
            "occupation_confirmed": True, "phone": "13800138000",
            "id_card": id_card(), "motivation": "想考电工证，多一门手艺"}
    process = api("GET", "/processes/training_registration", "rider1").get_json()
    course_field = next(f for f in process["form"]["fields"] if f["name"] == "course")
    assert any(c["value"] == str(course.id) and "电工技能提升班" in c["label"]
               for c in course_field["choices"])
    instance_id = start(api, "rider1", "training_registration", data)
    again = api("POST", "/processes/training_registration/instances", "rider1",
                json={"data": data})
    assert again.status_code == 409 and error_of(again)["code"] == "duplicate"
    assert api("GET", f"/instances/{instance_id}", "rider1").get_json()["status"] == "running"
    # The course is held; the organiser keeps the register on its page, then confirms the
    # attendance step through the API: the register decides, ≥ 80 % completes.
    move_into_the_past(course)
    end_the_course()
    login("unit_admin").post(f"/courses/{course.id}/attendance", data={
        "present": marks(course, {instance_id: 9}), "action": "save"})
    done = drive(api, instance_id, {"attendance": {"action": "complete"}})
    assert (done["status"], done["data"]["attendance"]) == (
        "completed", {"attended": 9, "total": 10, "rate": 90})


def test_station_master_through_the_api(api, demo):
    station = unit_by_code("st-jfb")
    slot = db.session.scalars(select(DutySlot).where(DutySlot.station_id == station.id)
                              .order_by(DutySlot.starts_at)).first()
    instance_id = start(api, "volunteer1", "station_master", {
        "station": station.id, "slot": slot.id, "phone": "13700137000",
        "skills": ["legal", "policy"]})
    done = drive(api, instance_id, {
        "check_in": {"action": "complete", "data": {"arrival_note": "准时到岗"}},
        "report": {"action": "complete", "data": {
            "checklist": ["clean", "water", "charging"], "hours": "8", "opinions_count": 5,
            "opinions": "骑手反映充电桩不够用", "wishes_lit": 2, "event_held": True,
            "event_summary": "开展了法律咨询活动"}},
        "confirm": {"action": "approve", "data": {"confirmed_hours": "7.5"}},
    })
    assert done["status"] == "completed" and done["data"]["confirmed_hours"] in ("7.5", 7.5)


def test_retreat_nomination_through_the_api(api, demo):
    batch = db.session.scalar(select(RetreatBatch))
    done_id = start(api, "rider1", "retreat_nomination", {
        "batch": batch.id, "honour": "frontline", "frontline": True, "new_employment": True,
        "id_card": id_card(), "phone": "13800138000", "health_ok": True,
        "deeds": "从事外卖配送五年，累计安全配送三万余单，多次见义勇为，获评区级优秀骑手。"})
    # Supervisors see it all and change nothing.
    seen = api("GET", f"/instances/{done_id}", "supervisor")
    assert seen.status_code == 200 and seen.get_json()["tasks"][0]["actions"] == []
    assert api("POST", f"/instances/{done_id}/comments", "supervisor",
               json={"text": "看看"}).status_code == 403
    done = drive(api, done_id, {
        "unit_review": {"action": "approve", "comment": "同意推荐"},
        "district_review": {"action": "approve"},
        "city_review": {"action": "approve"},
        "briefing": {"action": "complete", "data": {"discipline_ack": True}},
        "summary": {"action": "complete", "data": {"travelled": "yes", "summary_text":
                    "参加了为期五天的疗休养，身心得到放松，结识了来自各行业的劳模，"
                    "回到岗位后将继续做好配送服务工作，把党和工会的关怀传递给更多骑手。"}},
    })
    assert done["status"] == "completed"


def test_a_waitlisted_sign_up_is_running_in_the_api(api, demo):
    slot = db.session.scalar(select(DutySlot).where(DutySlot.capacity == 1))
    station = slot.station
    first = start(api, "volunteer1", "station_master", {
        "station": station.id, "slot": slot.id, "phone": "13700137000"})
    second = start(api, "branch_secretary", "station_master", {
        "station": station.id, "slot": slot.id, "phone": "13600136000"})
    db.session.expire_all()
    assert db.session.get(Instance, second).status == "waitlisted"
    shown = api("GET", f"/instances/{second}", "branch_secretary").get_json()
    assert shown["status"] == "running"
    # ...but on the waiting list, and its history says so (the first took the place).
    assert shown["waitlisted"] is True
    assert [h["label"] for h in shown["history"] if h["action"] == "reserve"] == [
        "名额已满，进入候补"]
    placed = api("GET", f"/instances/{first}", "volunteer1").get_json()
    assert placed["waitlisted"] is False
    assert [h["label"] for h in placed["history"] if h["action"] == "reserve"] == ["占用名额"]
    assert [i["id"] for i in api("GET", "/instances?status=running", "branch_secretary")
            .get_json()["items"]] == [second]
    assert first != second
