"""Running courses in the browser's forms: an administrator creates a course, lays out its
timetable and changes it; registration then offers it; nobody outside the unit touches it."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from tests.webapp.test_pages import alerts, errors, login  # noqa: F401
from tests.webapp.test_training import TRAINEES, course_named, register
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import AuditEntry, CapacityResource, Course, CourseSession
from webapp.services.activities import CHINA
from webapp.services.org import unit_by_code


def today() -> date:
    return datetime.now(CHINA).date()


def course_form(**changes) -> dict:
    t = today()
    form = {"title": "叉车司机安全操作培训", "kind": "叉车", "unit": str(unit_by_code("cq-yz-jfb").id),
            "venue": "渝中区职工服务中心一楼", "capacity": "2", "sessions": "3",
            "opens_on": str(t - timedelta(days=1)), "closes_on": str(t + timedelta(days=10)),
            "starts_on": str(t + timedelta(days=12)), "ends_on": str(t + timedelta(days=20)),
            "occupations": ["delivery", "courier"], "min_age": "18", "max_age": "60",
            "description": "理论加实操"}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def session_form(day: date, starts="19:00", ends="21:00", topic="理论") -> dict:
    return {"session-day": str(day), "session-starts": starts, "session-ends": ends,
            "session-topic": topic}


def test_an_administrator_creates_a_course_with_a_timetable_and_workers_register(login, demo):
    client = login("unit_admin")
    assert "新建课程" in client.get("/courses").get_data(as_text=True)
    page = client.post("/courses/new", data=course_form())
    assert page.status_code == 302, errors(page)
    course = course_named("叉车司机安全操作培训")
    assert (course.capacity, course.sessions, course.occupation_keys, course.min_age) == (
        2, 3, ["delivery", "courier"], 18)
    assert db.session.get(CapacityResource, f"course:{course.id}").capacity == 2

    start = course.starts_on
    for offset, topic in ((0, "理论"), (2, "实操"), (4, "考核")):
        page = client.post(f"/courses/{course.id}/sessions",
                           data=session_form(start + timedelta(days=offset), topic=topic))
        assert page.status_code == 302, errors(page)
    db.session.expire_all()
    assert [s.topic for s in course.schedule] == ["理论", "实操", "考核"]
    assert course.sessions == 3
    assert "19:00–21:00" in client.get(f"/courses/{course.id}/edit").get_data(as_text=True)

    # Workers see it at registration and take its places; a driver is not eligible.
    assert register(login, "rider1", course)
    assert register(login, "courier1", course)
    entries = db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_type == "course", AuditEntry.object_id == str(course.id))).all()
    assert entries == ["course.create"] + ["course.session_add"] * 3


def test_capacity_cannot_drop_below_the_places_taken(login, demo):
    client = login("unit_admin")
    client.post("/courses/new", data=course_form(capacity="5"))
    course = course_named("叉车司机安全操作培训")
    register(login, "rider1", course)
    register(login, "courier1", course)
    client = login("unit_admin")
    page = client.post(f"/courses/{course.id}/edit", data=course_form(capacity="1"))
    assert page.status_code == 422
    assert "已录取 2 人，招收人数不能少于 2。" in errors(page)
    db.session.expire_all()
    assert course_named("叉车司机安全操作培训").capacity == 5
    page = client.post(f"/courses/{course.id}/edit", data=course_form(capacity="2",
                                                                       venue="新地点"))
    assert page.status_code == 302
    db.session.expire_all()
    course = course_named("叉车司机安全操作培训")
    assert (course.capacity, course.venue) == (2, "新地点")
    update = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "course.update"))
    assert update.before == {"capacity": 5, "venue": "渝中区职工服务中心一楼"}
    assert update.after == {"capacity": 2, "venue": "新地点"}


def test_bad_course_input_is_explained_and_nothing_is_saved(login, demo):
    client = login("unit_admin")
    cases = [
        (course_form(title=""), "请填写课程名称"),
        (course_form(capacity="0"), "招收人数应在 1 到 1000 之间"),
        (course_form(capacity="abc"), None),
        (course_form(closes_on=str(today() - timedelta(days=5))), "报名截止日期不能早于开始日期"),
        (course_form(ends_on=str(today())), "结课日期不能早于开课日期"),
        (course_form(closes_on=str(today() + timedelta(days=30))), "报名应在结课之前截止"),
        (course_form(min_age="50", max_age="20"), "最高年龄不能小于最低年龄"),
        (course_form(occupations=["pilot"]), None),
        (course_form(unit=str(unit_by_code("cq-jb").id)), None),   # not theirs
        (course_form(unit=str(unit_by_code("st-jfb").id)), None),  # a station runs no course
        (course_form(title="课" * 101), "最多 100 个字"),
        # Every date in the past: nobody could ever register.
        (course_form(opens_on=str(today() - timedelta(days=40)),
                     closes_on=str(today() - timedelta(days=30)),
                     starts_on=str(today() - timedelta(days=20)),
                     ends_on=str(today() - timedelta(days=10))),
         "报名截止日期已经过去，职工将无法报名。请检查日期。"),
    ]
    for form, message in cases:
        page = client.post("/courses/new", data=form)
        assert page.status_code == 422, form
        assert errors(page), form
        if message:
            assert message in errors(page), (message, errors(page))
    assert db.session.scalar(select(Course).where(Course.title.like("%叉车%"))) is None
    assert course_named("课" * 101) is None


def test_timetable_rules(login, demo):
    client = login("unit_admin")
    client.post("/courses/new", data=course_form())
    course = course_named("叉车司机安全操作培训")
    day = course.starts_on
    outside = client.post(f"/courses/{course.id}/sessions",
                          data=session_form(course.ends_on + timedelta(days=1)))
    assert outside.status_code == 422
    assert any("上课日期应在开课和结课日期之间" in e for e in errors(outside))
    backwards = client.post(f"/courses/{course.id}/sessions",
                            data=session_form(day, starts="21:00", ends="19:00"))
    assert "结束时间应晚于开始时间" in errors(backwards)
    assert client.post(f"/courses/{course.id}/sessions", data=session_form(day)).status_code == 302
    twice = client.post(f"/courses/{course.id}/sessions", data=session_form(day))
    assert "这个时间已经有一次课了。" in errors(twice)
    second = client.post(f"/courses/{course.id}/sessions",
                         data=session_form(day + timedelta(days=1)))
    assert second.status_code == 302
    db.session.expire_all()
    first, other = course.schedule
    # A session still to come can go, but never the last one.
    assert client.post(f"/courses/{course.id}/sessions/{other.id}/delete").status_code == 302
    page = client.post(f"/courses/{course.id}/sessions/{first.id}/delete", follow_redirects=True)
    assert "课表至少要保留一次课。" in alerts(page)
    db.session.expire_all()
    assert [s.id for s in course_named("叉车司机安全操作培训").schedule] == [first.id]


def test_a_held_session_stays_on_the_timetable(login, demo):
    course = course_named("外卖快递骑手职业技能提升班")   # under way: sessions held
    held = course.schedule[0]
    client = login("unit_admin")
    page = client.post(f"/courses/{course.id}/sessions/{held.id}/delete", follow_redirects=True)
    assert "这次课已经开始或已登记出勤，不能删除。" in alerts(page)
    db.session.expire_all()
    assert db.session.get(CourseSession, held.id) is not None


def test_only_the_course_units_administrators_manage_it(login, demo):
    course = course_named("电工技能提升班")
    other = login("jiangbei_admin")       # another district
    assert other.get(f"/courses/{course.id}/edit").status_code == 404
    assert other.post(f"/courses/{course.id}/edit", data=course_form()).status_code == 404
    assert other.post(f"/courses/{course.id}/sessions",
                      data=session_form(course.starts_on)).status_code == 404
    session = course.schedule[-1]
    assert other.post(f"/courses/{course.id}/sessions/{session.id}/delete").status_code == 404
    worker = login(next(iter(TRAINEES)))
    assert worker.get("/courses/new").status_code == 403
    assert "新建课程" not in worker.get("/courses").get_data(as_text=True)
    assert worker.get(f"/courses/{course.id}/edit").status_code == 404
    # Above the unit, a district administrator manages it.
    assert login("yuzhong_admin").get(f"/courses/{course.id}/edit").status_code == 200
    # A session of another course is not reached through this one.
    mine = course_named("育婴员（初级）培训")
    assert login("unit_admin").post(
        f"/courses/{mine.id}/sessions/{session.id}/delete").status_code == 404
    db.session.expire_all()
    assert db.session.get(CourseSession, session.id) is not None


def test_moving_a_courses_end_moves_the_registrations_waiting_for_it(login, demo):
    """A trainee's registration waits for the course to end, then the attendance step
    opens: shortened or lengthened, it follows the new end, and the trainee is told."""
    from webapp.models import Instance, Notification, Task, Timer
    from webapp.services import workflow as wf
    from webapp.services.activities import CHINA as zone

    client = login("unit_admin")
    client.post("/courses/new", data=course_form())
    course = course_named("叉车司机安全操作培训")
    for offset in (0, 2, 4):
        client.post(f"/courses/{course.id}/sessions",
                    data=session_form(course.starts_on + timedelta(days=offset)))
    instance_id = register(login, "rider1", course)

    def waiting():
        db.session.expire_all()
        timer = db.session.scalar(select(Timer).where(
            Timer.instance_id == instance_id, Timer.purpose == "wait",
            Timer.status == "pending"))
        task = db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                    Task.status == "open"))
        return timer, task

    timer, task = waiting()
    old_end = timer.fire_at
    assert old_end.astimezone(zone).date() >= today() + timedelta(days=20)
    new_end = today() + timedelta(days=16)
    page = login("unit_admin").post(f"/courses/{course.id}/edit",
                                    data=course_form(ends_on=str(new_end)))
    assert page.status_code == 302, errors(page)
    timer, task = waiting()
    assert timer.fire_at < old_end and timer.fire_at.astimezone(zone).date() in (
        new_end, new_end + timedelta(days=1))
    assert task.due_at == timer.fire_at  # the request's page and the API say it too
    notes = db.session.scalars(select(Notification.kind).where(
        Notification.instance_id == instance_id)).all()
    assert "retimed" in notes
    page = login("rider1").get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "日期调整" in page
    # Other changes of the course move nothing and tell nobody.
    login("unit_admin").post(f"/courses/{course.id}/edit",
                             data=course_form(ends_on=str(new_end), venue="新地点"))
    assert db.session.scalars(select(Notification.kind).where(
        Notification.instance_id == instance_id)).all().count("retimed") == 1
    # The new end comes: the attendance step opens then, not at the old end.
    wf.fire_due_timers(timer.fire_at + timedelta(minutes=1))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Instance, instance_id).steps == "attendance"


def time_out(instance_id: int) -> datetime:
    """When the registration's pending time-out falls, in China time (naive)."""
    from webapp.models import Timer

    db.session.expire_all()
    return db.session.scalar(select(Timer.fire_at).where(
        Timer.instance_id == instance_id, Timer.purpose == "timeout",
        Timer.status == "pending")).astimezone(CHINA).replace(tzinfo=None)


def midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def test_moving_a_courses_start_moves_its_waiting_list(login, demo):
    """The waiting list lasts until the course begins: moved, it follows the new start
    (the trainee is told); the trainees with a seat keep waiting for the end."""
    from webapp.models import Instance, Notification

    client = login("unit_admin")
    client.post("/courses/new", data=course_form(
        occupations=["delivery", "courier", "ride_hailing"]))
    course = course_named("叉车司机安全操作培训")
    register(login, "rider1", course)
    register(login, "courier1", course)
    waiting = register(login, "driver1", course)
    assert db.session.get(Instance, waiting).status == "waitlisted"

    # The start of the course's first day in China, not 08:00 (midnight UTC).
    assert time_out(waiting) == midnight(course.starts_on)
    new_start = today() + timedelta(days=15)
    page = login("unit_admin").post(f"/courses/{course.id}/edit",
                                    data=course_form(starts_on=str(new_start), occupations=[
                                        "delivery", "courier", "ride_hailing"]))
    assert page.status_code == 302, errors(page)
    assert time_out(waiting) == midnight(new_start)
    assert "retimed" in db.session.scalars(select(Notification.kind).where(
        Notification.instance_id == waiting)).all()


def test_a_registration_under_review_follows_the_courses_new_start(login, demo):
    """Its review ends when the course begins: moved, the end moves with it."""
    from webapp.models import Instance

    client = login("unit_admin")
    client.post("/courses/new", data=course_form(requires_approval="y"))
    course = course_named("叉车司机安全操作培训")
    assert course.requires_approval
    waiting = register(login, "rider1", course)
    assert db.session.get(Instance, waiting).steps == "unit_review"

    assert time_out(waiting) == midnight(course.starts_on)
    new_start = today() + timedelta(days=15)
    page = login("unit_admin").post(f"/courses/{course.id}/edit", data=course_form(
        requires_approval="y", starts_on=str(new_start)))
    assert page.status_code == 302, errors(page)
    assert time_out(waiting) == midnight(new_start)
    task = login("unit_admin").get("/inbox").get_data(as_text=True)
    assert "叉车司机安全操作培训" in task


def test_new_dates_that_leave_sessions_outside_are_refused(login, demo):
    """The waiting list, the wait for the end and the attendance judgement follow the
    course's dates: dates that leave the timetable outside them would send everyone to
    judgement on sessions not yet held, so they are refused and nothing changes."""
    from webapp.models import Instance, Notification

    everyone = ["delivery", "courier", "ride_hailing"]
    client = login("unit_admin")
    client.post("/courses/new", data=course_form(capacity="1", occupations=everyone))
    course = course_named("叉车司机安全操作培训")
    days = [course.starts_on + timedelta(days=3), course.starts_on + timedelta(days=4)]
    for day in days:
        assert client.post(f"/courses/{course.id}/sessions",
                           data=session_form(day)).status_code == 302
    first = register(login, "rider1", course)
    promoted = register(login, "courier1", course)
    waiting = register(login, "driver1", course)
    assert login("rider1").post(f"/instances/{first}/withdraw").status_code == 302
    db.session.expire_all()
    assert db.session.get(Instance, promoted).status == "running"
    seated, queued = time_out(waiting), _wait(promoted)

    shown = "、".join(f"{d:%m-%d}" for d in days)
    late = course_form(starts_on=str(days[-1] + timedelta(days=1)),
                       ends_on=str(days[-1] + timedelta(days=9)), occupations=everyone)
    early = course_form(ends_on=str(days[0] - timedelta(days=1)), occupations=everyone)
    for form, field in ((late, "starts_on"), (early, "ends_on")):
        page = login("unit_admin").post(f"/courses/{course.id}/edit", data=form)
        assert page.status_code == 422
        assert f"已有课次在 {shown}，不在新的开课日期范围内" in " ".join(errors(page))
        # Said beside the date that leaves them out.
        assert f"已有课次在 {shown}" in page.get_data(as_text=True).split(
            f'id="{field}"')[1].split("<input")[0]
    db.session.expire_all()
    course = course_named("叉车司机安全操作培训")
    assert (course.starts_on, course.ends_on) == (today() + timedelta(days=12),
                                                  today() + timedelta(days=20))
    assert (time_out(waiting), _wait(promoted)) == (seated, queued)
    assert not db.session.scalars(select(Notification.kind).where(
        Notification.kind == "retimed")).all()
    assert "course.update" not in db.session.scalars(select(AuditEntry.action)).all()

    client = login("unit_admin")
    client.post("/auth/locale", data={"locale": "en"})
    page = client.post(f"/courses/{course.id}/edit", data=late)
    assert ("The timetable has sessions on " + ", ".join(f"{d:%m-%d}" for d in days)
            + ", outside the new course dates") in " ".join(errors(page))
    # Widened to keep the timetable, the dates are saved.
    wider = course_form(ends_on=str(days[-1] + timedelta(days=9)), occupations=everyone)
    assert client.post(f"/courses/{course.id}/edit", data=wider).status_code == 302


def _wait(instance_id: int) -> datetime:
    from webapp.models import Timer

    db.session.expire_all()
    return db.session.scalar(select(Timer.fire_at).where(
        Timer.instance_id == instance_id, Timer.purpose == "wait", Timer.status == "pending"))


def test_more_seats_go_to_the_waiting_list_first_in_its_order(login, demo):
    """Raising a course's capacity promotes those waiting, first come first served (each
    told, their registration goes on) before any newcomer takes a new seat."""
    from webapp.models import Instance, Notification

    everyone = ["delivery", "courier", "ride_hailing"]
    client = login("unit_admin")
    client.post("/courses/new", data=course_form(capacity="1", occupations=everyone))
    course = course_named("叉车司机安全操作培训")
    register(login, "rider1", course)
    second, third = register(login, "courier1", course), register(login, "driver1", course)
    db.session.expire_all()
    assert [db.session.get(Instance, i).status for i in (second, third)] == ["waitlisted"] * 2

    page = login("unit_admin").post(f"/courses/{course.id}/edit",
                                    data=course_form(capacity="2", occupations=everyone))
    assert page.status_code == 302, errors(page)
    db.session.expire_all()
    promoted, waiting = db.session.get(Instance, second), db.session.get(Instance, third)
    assert (promoted.status, waiting.status) == ("running", "waitlisted")
    assert promoted.steps != "seat"
    assert "promoted" in db.session.scalars(select(Notification.kind).where(
        Notification.instance_id == second)).all()
    assert db.session.get(CapacityResource, f"course:{course.id}").granted == 2

    login("unit_admin").post(f"/courses/{course.id}/edit",
                             data=course_form(capacity="3", occupations=everyone))
    db.session.expire_all()
    assert db.session.get(Instance, third).status == "running"
