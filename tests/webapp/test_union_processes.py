"""Training, station master for a day and retreat nominations, each driven to its end
through the web pages by the demo users (waiting periods pass by the timers)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.webapp.test_pages import alerts, errors, login  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import (Course, DutySlot, Instance, RetreatBatch, Task, TaskAssignee,
                           User)
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code


def id_card(first17: str = "50010319900307123") -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights))
    return first17 + "10X98765432"[total % 11]


def start(client, key: str, data: dict) -> int:
    response = client.post(f"/processes/{key}/start", data=data)
    assert response.status_code == 302, errors(response) + alerts(response)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def drive(login, instance_id: int, answers: dict, *, max_steps: int = 20) -> Instance:
    """Act on each open task as its assignee through the task page, firing timers when
    the instance only waits, until it ends."""
    clock = datetime.now(timezone.utc)
    for _ in range(max_steps):
        db.session.expire_all()
        instance = db.session.get(Instance, instance_id)
        if instance.closed_at is not None:
            return instance
        task = db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                    Task.status == "open", Task.kind != "timer"))
        if task is None or task.step not in answers:
            clock += timedelta(days=70)  # let the waiting step's time pass
            wf.fire_due_timers(clock)
            db.session.commit()
            continue
        username = db.session.scalar(select(User.username).join(
            TaskAssignee, TaskAssignee.user_id == User.id).where(TaskAssignee.task_id == task.id)
            .order_by(User.id))
        assert username, f"nobody is assigned to {task.step}"
        client = login(username)
        assert client.get(f"/tasks/{task.id}").status_code == 200
        response = client.post(f"/tasks/{task.id}", data=answers[task.step])
        assert response.status_code == 302, (task.step, errors(response) + alerts(response))
    raise AssertionError("the instance did not end")


def test_course_that_asks_for_approval_goes_to_the_unit_first(login, demo):
    course = db.session.scalar(select(Course).where(Course.requires_approval.is_(True)))
    instance_id = start(login("rider1"), "training_registration", {
        "course": str(course.id), "real_name": "马超", "occupation": "delivery",
        "occupation_confirmed": "y", "phone": "13800138000", "id_card": id_card()})
    db.session.expire_all()
    assert db.session.get(Instance, instance_id).steps == "unit_review"
    instance = drive(login, instance_id, {
        "unit_review": {"action": "reject", "comment": "本期名额优先安排育婴从业人员"}})
    assert instance.status == "rejected"


def test_station_master_for_a_day(login, demo):
    station = unit_by_code("st-jfb")
    slot = db.session.scalars(select(DutySlot).where(DutySlot.station_id == station.id)
                              .order_by(DutySlot.starts_at)).first()
    client = login("volunteer1")
    instance_id = start(client, "station_master", {
        "station": str(station.id), "slot": str(slot.id), "phone": "13700137000",
        "skills": ["legal", "policy"]})
    assert client.post("/processes/station_master/start", data={
        "station": str(station.id), "slot": str(slot.id),
        "phone": "13700137000"}).status_code == 409  # no duplicate sign-up
    instance = drive(login, instance_id, {
        "check_in": {"action": "complete", "arrival_note": "准时到岗"},
        "report": {"action": "complete", "checklist": ["clean", "water", "charging"],
                   "hours": "8", "opinions_count": "5", "opinions": "骑手反映充电桩不够用",
                   "wishes_lit": "2", "event_held": "y", "event_summary": "开展了法律咨询活动"},
        "confirm": {"action": "approve", "confirmed_hours": "7.5"},
    })
    assert instance.status == "completed"
    assert instance.state["data"]["confirmed_hours"] in ("7.5", 7.5)


def test_a_report_sent_back_says_why_and_keeps_what_was_written(login, demo):
    """The station head returns the duty report: the volunteer's task page gives the
    reason and the report as written, to correct rather than retype."""
    from webapp.models import Notification

    station = unit_by_code("st-jfb")
    slot = db.session.scalars(select(DutySlot).where(DutySlot.station_id == station.id)
                              .order_by(DutySlot.starts_at)).first()
    instance_id = start(login("volunteer1"), "station_master", {
        "station": str(station.id), "slot": str(slot.id), "phone": "13700137000"})
    report = {"action": "complete", "checklist": ["clean", "water", "charging"],
              "hours": "8", "opinions_count": "5", "opinions": "骑手反映充电桩不够用",
              "event_held": "y", "event_summary": "开展了法律咨询活动"}
    answers = {"check_in": {"action": "complete", "arrival_note": "准时到岗"}, "report": report,
               "confirm": {"action": "return", "to": "report", "comment": "值守时长应为7小时，请修改"}}
    try:
        drive(login, instance_id, answers, max_steps=4)
    except AssertionError:
        pass  # it does not end: the report is back with the volunteer
    db.session.expire_all()
    task = db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                Task.status == "open"))
    assert task.step == "report"
    page = login("volunteer1").get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'id="sent-back"' in page and "值守时长应为7小时，请修改" in page
    assert "骑手反映充电桩不够用" in page and "开展了法律咨询活动" in page  # as written
    assert 'value="8"' in page
    note = db.session.scalars(select(Notification).where(
        Notification.instance_id == instance_id, Notification.kind == "sent_back")).one()
    assert note.user_id == db.session.scalar(select(User.id).where(User.username == "volunteer1"))
    # Not for a first report, nor for the head's own task.
    head_task = db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                     Task.step == "confirm"))
    assert 'id="sent-back"' not in login("station_head").get(f"/tasks/{head_task.id}") \
        .get_data(as_text=True)


def test_duty_report_needs_three_checks(login, demo):
    station = unit_by_code("st-jfb")
    slot = db.session.scalars(select(DutySlot).where(DutySlot.station_id == station.id)
                              .order_by(DutySlot.starts_at)).first()
    instance_id = start(login("volunteer1"), "station_master", {
        "station": str(station.id), "slot": str(slot.id), "phone": "13700137000"})
    with pytest.raises(AssertionError, match="至少完成 3 项检查"):
        drive(login, instance_id, {
            "check_in": {"action": "complete"},
            "report": {"action": "complete", "checklist": ["clean", "water"], "hours": "8"}})


def test_a_full_duty_slot_puts_the_next_volunteer_on_the_waiting_list(login, demo):
    slot = db.session.scalar(select(DutySlot).where(DutySlot.capacity == 1))
    station = slot.station
    db.session.commit()
    first = start(login("volunteer1"), "station_master", {
        "station": str(station.id), "slot": str(slot.id), "phone": "13700137000"})
    second = start(login("branch_secretary"), "station_master", {
        "station": str(station.id), "slot": str(slot.id), "phone": "13600136000"})
    db.session.expire_all()
    assert db.session.get(Instance, first).steps == "wait_duty"
    assert db.session.get(Instance, second).status == "waitlisted"
    # The history tells a place taken from a spot on the waiting list.
    waiting = login("branch_secretary").get(f"/instances/{second}").get_data(as_text=True)
    assert "名额已满，进入候补" in waiting and "占用名额" not in waiting
    # ... its place in the queue, and how long the waiting lasts: until the duty begins.
    from webapp.i18n import local_time
    assert f"候补第 1 位，候补至 {local_time(slot.starts_at):%Y-%m-%d %H:%M}" in waiting
    assert "占用名额" in login("volunteer1").get(f"/instances/{first}").get_data(as_text=True)
    login("volunteer1").post(f"/instances/{first}/withdraw")
    db.session.expire_all()
    assert db.session.get(Instance, second).steps == "wait_duty"  # promoted automatically
    promoted = login("branch_secretary").get(f"/instances/{second}").get_data(as_text=True)
    assert "名额已满，进入候补" in promoted and "占用名额" in promoted


def test_a_no_show_keeps_the_place_so_nobody_is_promoted_into_a_past_day(login, demo):
    """The volunteer holding the slot does not check in: the duty day is over, so the
    next on the waiting list is not told to go there (the place is kept, as a training
    seat is)."""
    from datetime import timedelta

    from webapp.models import Notification

    slot = db.session.scalar(select(DutySlot).where(DutySlot.capacity == 1))
    station, starts = slot.station, slot.starts_at
    db.session.commit()
    first = start(login("volunteer1"), "station_master", {
        "station": str(station.id), "slot": str(slot.id), "phone": "13700137000"})
    second = start(login("branch_secretary"), "station_master", {
        "station": str(station.id), "slot": str(slot.id), "phone": "13600136000"})
    for hours in (1, 30, 60):  # the day comes, check-in times out: no-show
        wf.fire_due_timers(starts + timedelta(hours=hours))
        db.session.commit()
    db.session.expire_all()
    assert db.session.get(Instance, first).state["end"] == "no_show"
    waiting = db.session.get(Instance, second)
    assert waiting.steps not in ("wait_duty", "check_in", "report"), waiting.steps
    assert not db.session.scalar(select(Notification.id).where(
        Notification.instance_id == second, Notification.kind == "promoted"))
    # The volunteer is told what happened — the end's name, not only "已过期".
    from webapp.notifications import title_of

    ended = db.session.scalar(select(Notification).where(
        Notification.instance_id == first, Notification.kind == "ended"))
    assert title_of(ended, "zh") == "您的一日站长已结束：未到岗"
    assert title_of(ended, "en").endswith("has ended: Did not show up")


def test_retreat_nomination_through_the_approval_chain(login, demo):
    batch = db.session.scalar(select(RetreatBatch))
    nomination = {"batch": str(batch.id), "honour": "frontline", "frontline": "y",
                  "new_employment": "y", "id_card": id_card(), "phone": "13800138000",
                  "health_ok": "y", "deeds": "从事外卖配送五年，累计安全配送三万余单，"
                                             "多次见义勇为，获评区级优秀骑手。"}
    client = login("rider1")
    missing_health = client.post("/processes/retreat_nomination/start",
                                 data={**nomination, "health_ok": ""})
    assert missing_health.status_code == 422
    instance_id = start(client, "retreat_nomination", nomination)
    assert client.post("/processes/retreat_nomination/start",
                       data=nomination).status_code == 409  # once per batch
    instance = drive(login, instance_id, {
        "unit_review": {"action": "approve", "comment": "同意推荐"},
        "district_review": {"action": "approve"},
        "city_review": {"action": "approve"},
        "briefing": {"action": "complete", "discipline_ack": "y"},
        "summary": {"action": "complete", "travelled": "yes", "summary_text":
                    "参加了为期五天的疗休养，身心得到放松，结识了来自各行业的劳模，"
                    "回到岗位后将继续做好配送服务工作，把党和工会的关怀传递给更多骑手。"},
    })
    assert instance.status == "completed"


def test_a_future_last_retreat_year_is_refused(login, demo):
    this_year = datetime.now(timezone(timedelta(hours=8))).year
    batch = db.session.scalar(select(RetreatBatch))
    nomination = {"batch": str(batch.id), "honour": "frontline", "id_card": id_card(),
                  "phone": "13800138000", "health_ok": "y",
                  "deeds": "从事外卖配送五年，累计安全配送三万余单，获评区级优秀骑手。"}
    client = login("rider1")
    page = client.get("/processes/retreat_nomination/start").get_data(as_text=True)
    assert f'max="{this_year}"' in page  # the phone's number pad knows the limit too
    refused = client.post("/processes/retreat_nomination/start",
                          data={**nomination, "last_retreat_year": str(this_year + 1)})
    assert refused.status_code == 422
    assert errors(refused) == [f"请输入不大于 {this_year} 的数。"]
    client.post("/auth/locale", data={"locale": "en"})
    english = client.post("/processes/retreat_nomination/start",
                          data={**nomination, "last_retreat_year": "2099"})
    assert errors(english) == [f"Enter a number of at most {this_year}."]
    assert db.session.scalar(select(Instance.id)) is None
    start(client, "retreat_nomination", {**nomination, "last_retreat_year": str(this_year)})


def test_retreat_quota_of_a_unit_is_enforced(login, demo, client):
    batch = db.session.scalar(select(RetreatBatch))
    base = {"batch": str(batch.id), "honour": "frontline", "id_card": id_card(),
            "phone": "13800138000", "health_ok": "y",
            "deeds": "从事快递配送五年，服务群众热情周到，多次获得客户表扬。"}
    start(login("rider1"), "retreat_nomination", base)
    unit = unit_by_code("cq-yz-logistics")
    assert login("yuzhong_admin").post(f"/retreat/quotas/{batch.id}/units/{unit.id}", data={
        f"u{unit.id}-amount": "1"}).status_code == 302  # only the place rider1 used
    other = {**base, "id_card": id_card("50010319920611456"), "phone": "13900139000"}
    refused = login("courier1").post("/processes/retreat_nomination/start", data=other)
    assert refused.status_code == 409
    # Which places ran out and what to do, not only that they did.
    assert "本单位本批次疗休养名额已用完，请联系上级工会调整名额" in alerts(refused)
    from tests.webapp.test_api import Api

    client.post("/auth/logout")
    answer = Api(client)("POST", "/processes/retreat_nomination/instances", "courier1",
                         headers={"Accept-Language": "en"},
                         json={"data": {**other, "batch": batch.id, "health_ok": True}})
    assert answer.status_code == 409
    assert answer.get_json()["error"]["message"] == (
        "Your unit's retreat places in this batch are all taken; ask the union above to "
        "adjust the quota")


def test_quotas_never_exceed_the_level_above(demo):
    from webapp.services.quotas import QuotaError, allocate_quota, return_unused_quota

    batch = db.session.scalar(select(RetreatBatch))
    # The city holds 40: 江北 12 and 沙坪坝 10 leave at most 18 for 渝中.
    with pytest.raises(QuotaError, match="18"):
        allocate_quota(batch, unit_by_code("cq-yz"), 19)
    allocate_quota(batch, unit_by_code("cq-yz"), 18)
    # 渝中 holds 18 and 解放碑 already has 6 of them: 大坪 may get 12, not 13.
    with pytest.raises(QuotaError, match="12"):
        allocate_quota(batch, unit_by_code("cq-yz-dp"), 13)
    allocate_quota(batch, unit_by_code("cq-yz-dp"), 12)
    # A unit cannot go below what it already handed down (解放碑 gave 3 to the couriers).
    with pytest.raises(QuotaError):
        allocate_quota(batch, unit_by_code("cq-yz-jfb"), 2)
    # Unused places go back: 大坪 used none of its 12.
    assert return_unused_quota(batch, unit_by_code("cq-yz-dp")) == 12


def test_no_duty_at_two_stations_at_once(login, demo):
    from webapp.services.activities import create_slot

    jfb, dp = unit_by_code("st-jfb"), unit_by_code("st-dp")
    day = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=20)
    morning = create_slot(jfb, day, day + timedelta(hours=4), 2)
    overlapping = create_slot(dp, day + timedelta(hours=3), day + timedelta(hours=6), 2)
    afterwards = create_slot(dp, day + timedelta(hours=4), day + timedelta(hours=8), 2)
    db.session.commit()
    client = login("volunteer1")
    start(client, "station_master", {"station": str(jfb.id), "slot": str(morning.id),
                                     "phone": "13700137000"})
    refused = client.post("/processes/station_master/start", data={
        "station": str(dp.id), "slot": str(overlapping.id), "phone": "13700137000"})
    assert refused.status_code == 409
    assert "这个时段与您已报名的另一个时段重叠" in refused.get_data(as_text=True)
    start(client, "station_master", {"station": str(dp.id), "slot": str(afterwards.id),
                                     "phone": "13700137000"})
