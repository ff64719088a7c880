"""A task's deadline (期限) as its holder sees it: the escalation or time-out, not the next
reminder; kept once passed; marked overdue / escalated in the inbox; and on the task page,
what happens when time runs out."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from tests.webapp.test_api import api  # noqa: F401
from tests.webapp.test_pages import login  # noqa: F401
from tests.webapp.test_workflow_service import demo, open_task, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.models import Task
from webapp.services import workflow as wf
from workflows.runtime import Action


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def task_row(instance_id: int) -> Task:
    db.session.expire_all()
    return db.session.scalars(select(Task).where(Task.instance_id == instance_id,
                                                 Task.status == "open")).one()


def late_and_fresh(demo):
    """A wish sent a week ago (escalated two days ago) and one sent now, both for the
    station head: (when the first was sent, the first, the second)."""
    begun = utcnow() - timedelta(days=7)
    late = wf.start_instance("micro_wish", demo["rider1"], wish_data(title="逾期的心愿"),
                             now=begun)
    db.session.commit()
    wf.fire_due_timers(begun + timedelta(days=6))
    db.session.commit()
    fresh = wf.start_instance("micro_wish", demo["courier1"], wish_data(title="新提交的心愿"))
    db.session.commit()
    return begun, late, fresh


def test_the_deadline_is_the_escalation_and_stays_once_passed(demo):
    """The station head's 期限 is when the wish is escalated (5 days), not the reminder
    (2 days); the reminder leaves it alone, and once escalated the task keeps it."""
    begun = utcnow() - timedelta(days=7)
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=begun)
    db.session.commit()
    assert aware(task_row(instance.id).due_at) == begun + timedelta(days=5)
    wf.fire_due_timers(begun + timedelta(days=3))  # the reminder
    db.session.commit()
    assert aware(task_row(instance.id).due_at) == begun + timedelta(days=5)
    wf.fire_due_timers(begun + timedelta(days=6))  # the escalation
    db.session.commit()
    task = task_row(instance.id)
    assert aware(task.due_at) == begun + timedelta(days=5)  # not wiped: overdue
    assert demo["yuzhong_admin"].id in {a.user_id for a in task.assignees}


def test_the_inbox_marks_overdue_and_escalated_tasks(demo, login):
    begun, late, fresh = late_and_fresh(demo)
    page = login("station_head").get("/inbox").get_data(as_text=True)
    late_row = page[page.index("逾期的心愿"):page.index("逾期的心愿") + 1500]
    fresh_row = page[page.index("新提交的心愿"):page.index("新提交的心愿") + 1500]
    assert "已督办" in late_row and "已超时" in late_row
    due = (begun + timedelta(days=5)).astimezone(timezone(timedelta(hours=8)))
    assert f"期限 {due:%m-%d %H:%M}" in late_row
    assert "已督办" not in fresh_row.split("list-group-item")[0]
    assert "已超时" not in fresh_row.split("list-group-item")[0]
    # The task page says so too, and when it happened.
    page = login("station_head").get(f"/tasks/{task_row(late.id).id}").get_data(as_text=True)
    assert "已超过办理期限" in page and "已督办升级" in page
    page = login("station_head").get(f"/tasks/{task_row(fresh.id).id}").get_data(as_text=True)
    assert "逾期将督办升级至上级" in page and "已超过办理期限" not in page


def test_a_task_due_within_a_day_is_marked_soon(demo, login):
    begun = utcnow() - timedelta(days=4, hours=12)
    wf.start_instance("micro_wish", demo["rider1"], wish_data(title="快到期的心愿"), now=begun)
    db.session.commit()
    page = login("station_head").get("/inbox").get_data(as_text=True)
    row = page[page.index("快到期的心愿"):page.index("快到期的心愿") + 1500]
    assert "即将到期" in row.split("list-group-item")[0] and "已超时" not in row


def test_the_task_page_warns_what_a_time_out_does(demo, login):
    """The volunteer fulfilling a wish is told it goes back to the wall after 15 days;
    the wisher confirming it, that the request ends by itself after 7."""
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=utcnow())
    db.session.commit()
    for kind, user in (("approve", demo["station_head"]), ("claim", demo["volunteer1"])):
        task = open_task(instance)
        wf.perform(instance.id, Action(kind, task=task.key), user)
        db.session.commit()
    fulfil = task_row(instance.id)
    assert fulfil.step == "fulfil"
    page = login("volunteer1").get(f"/tasks/{fulfil.id}").get_data(as_text=True)
    assert "前未处理，本环节将自动结束，转至：心愿墙待认领" in page
    demo["volunteer1"].locale = "en"
    db.session.commit()
    en = login("volunteer1").get(f"/tasks/{fulfil.id}").get_data(as_text=True)
    assert "this step ends by itself and the request moves to: On the wish wall" in en


def test_an_end_by_time_out_is_named_on_the_task_page(demo, login):
    """A volunteer whose duty has begun is told the sign-up ends as 未到岗 a day later."""
    from webapp.models import DutySlot
    from webapp.services.activities import create_slot
    from webapp.services.org import unit_by_code

    station = unit_by_code("st-jfb")
    begun = utcnow() - timedelta(hours=2)
    slot = create_slot(station, begun, begun + timedelta(hours=8), 2)
    db.session.commit()
    instance = wf.start_instance("station_master", demo["volunteer1"], {
        "station": station.id, "slot": slot.id, "phone": "13700137000",
        "skills": ["legal"]})
    db.session.commit()
    check_in = task_row(instance.id)
    assert check_in.step == "check_in" and db.session.get(DutySlot, slot.id) is not None
    page = login("volunteer1").get(f"/tasks/{check_in.id}").get_data(as_text=True)
    assert "前未处理，本申请将自动结束：未到岗" in page


def test_the_api_lists_tasks_with_their_deadline_marks(demo, api):
    begun, late, fresh = late_and_fresh(demo)
    items = {t["instance_id"]: t for t in
             api("GET", "/tasks?scope=mine&per_page=100", "station_head").get_json()["items"]}
    assert (items[late.id]["overdue"], items[late.id]["escalated"]) == (True, True)
    assert datetime.fromisoformat(items[late.id]["due_at"]) == begun + timedelta(days=5)
    assert (items[fresh.id]["overdue"], items[fresh.id]["escalated"]) == (False, False)
    # The district administrator it was escalated to sees it marked the same way.
    mine = {t["instance_id"]: t for t in
            api("GET", "/tasks?scope=mine&per_page=100", "yuzhong_admin").get_json()["items"]}
    assert mine[late.id]["escalated"] is True and fresh.id not in mine


def test_an_escalation_that_finds_nobody_says_so(demo, login):
    """With no district administrator to bring in, the history does not claim 督办升级
    happened as if someone had been: it says nobody above could take it."""
    from webapp.models import Membership

    for membership in list(demo["yuzhong_admin"].memberships):
        db.session.delete(membership)
    db.session.commit()
    begun = utcnow() - timedelta(days=7)
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=begun)
    db.session.commit()
    wf.fire_due_timers(begun + timedelta(days=6))
    db.session.commit()
    page = login("rider1").get(f"/instances/{instance.id}").get_data(as_text=True)
    assert "督办升级未送达：上级无人可接收" in page
    # Late, but not 督办: nobody was brought in.
    inbox = login("station_head").get("/inbox").get_data(as_text=True)
    row = inbox[inbox.index(instance.title):inbox.index(instance.title) + 1500]
    row = row.split("list-group-item")[0]
    assert "已超时" in row and "已督办" not in row
    page = login("station_head").get(f"/tasks/{task_row(instance.id).id}").get_data(
        as_text=True)
    assert "已超过办理期限（" in page and "已督办升级" not in page
    assert db.session.scalar(select(Membership.id).where(
        Membership.user_id == demo["yuzhong_admin"].id)) is None


def test_an_escalation_that_reached_someone_reads_as_before():
    from webapp.labels import history_label

    words = {"escalate": "督办升级", "escalate:nobody": "督办升级未送达：上级无人可接收"}
    assert history_label("escalate", {"to": [7]}, words) == "督办升级"
    assert history_label("escalate", {"to": None}, words) == "督办升级未送达：上级无人可接收"


def test_a_timer_without_its_date_reads_apart_from_one_whose_date_passed(app):
    from flask_babel import force_locale

    from webapp.labels import history_label, history_words

    with app.test_request_context():
        words = history_words()
        assert history_label("timer_passed", {}, words) == "等待期满"
        assert history_label("timer_passed", {"no_date": True}, words) == "未填写日期，不等待"
        assert history_label("no_timeout", {"no_date": True}, words) == "未填写日期，不设期限"
    with app.test_request_context(), force_locale("en"):
        words = history_words()
        assert history_label("timer_passed", {"no_date": True}, words) == \
            "No date given: not waiting"
        assert history_label("no_timeout", {}, words) == "No date given: no time limit"


def test_the_wish_wall_in_the_inbox_shows_its_deadline(demo, login):
    """A volunteer sees when a wish on the wall ends unclaimed, and that it was escalated
    (brought to the district's attention) once 14 days passed."""
    begun = utcnow() - timedelta(days=15)
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(title="墙上的心愿"),
                                 now=begun)
    db.session.commit()
    wf.perform(instance.id, Action("approve", task=open_task(instance).key),
               demo["station_head"], now=begun)
    db.session.commit()
    wf.fire_due_timers(utcnow())  # 14 days on the wall: escalated to the district
    db.session.commit()
    wall = task_row(instance.id)
    assert wall.step == "wall" and aware(wall.due_at) == begun + timedelta(days=30)
    page = login("volunteer1").get("/inbox").get_data(as_text=True)
    row = page[page.index("墙上的心愿"):page.index("墙上的心愿") + 1500].split("list-group-item")[0]
    due = (begun + timedelta(days=30)).astimezone(timezone(timedelta(hours=8)))
    assert f"期限 {due:%m-%d %H:%M}" in row and "已督办" in row
