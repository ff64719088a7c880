"""Running a course on a 360 px phone: a mistake answered beside its field, then the course
created and a class added to its timetable; the same page at desktop width."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_micro_wish import serious_violations, sign_in
from tests.webapp.test_course_admin import today
from tests.webapp.test_training import course_named
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db

pytestmark = pytest.mark.browser


def test_create_a_course_and_its_timetable_on_a_phone(phone, desktop, live_server, demo):
    sign_in(phone, live_server, "unit_admin")
    phone.goto(f"{live_server}/courses")
    phone.get_by_role("link", name="新建课程").click()
    phone.get_by_label("课程名称").fill("叉车司机安全操作培训")
    phone.get_by_label("培训类别").fill("叉车")
    phone.get_by_label("上课地点").fill("渝中区职工服务中心一楼")
    phone.get_by_label("招收人数").fill("20")
    t = today()
    phone.get_by_label("报名开始日期").fill(str(t))
    phone.get_by_label("报名截止日期").fill(str(t + timedelta(days=40)))   # after it ends
    phone.get_by_label("开课日期").fill(str(t + timedelta(days=12)))
    phone.get_by_label("结课日期").fill(str(t + timedelta(days=20)))
    phone.get_by_label("快递员").check()
    phone.get_by_role("button", name="创建课程").click()
    expect(phone.get_by_text("报名应在结课之前截止")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(phone) == []
    screenshot(phone, "course-form-error-360")

    phone.get_by_label("报名截止日期").fill(str(t + timedelta(days=10)))
    phone.get_by_role("button", name="创建课程").click()
    expect(phone.get_by_text("课程已创建")).to_be_visible()
    phone.get_by_label("上课日期").fill(str(t + timedelta(days=12)))
    phone.get_by_label("开始时间").fill("19:00")
    phone.get_by_label("结束时间").fill("21:00")
    phone.get_by_label("内容").fill("安全规程")
    phone.get_by_role("button", name="加入课表").click()
    expect(phone.get_by_text("已加入课表。")).to_be_visible()
    expect(phone.get_by_text("19:00–21:00 · 安全规程")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(phone) == []
    screenshot(phone, "course-timetable-360")
    db.session.rollback()   # end the test's read transaction: see what the server wrote
    course = course_named("叉车司机安全操作培训")
    assert course is not None and course.occupation_keys == ["courier"]

    sign_in(desktop, live_server, "unit_admin")
    desktop.goto(f"{live_server}/courses/{course.id}/edit")
    expect(desktop.get_by_role("heading", name="课表")).to_be_visible()
    assert serious_violations(desktop) == []
    screenshot(desktop, "course-timetable-desktop")


def test_correct_a_wrongly_failed_trainee_on_a_phone(phone, live_server, demo):
    """更正 on a 360 px phone: the trainee's marks, the result and the reason; asked,
    then confirmed — the register shows the new result."""
    from tests.webapp.test_training import end_the_course, move_into_the_past
    from tests.webapp.test_union_processes import id_card
    from webapp.models import Instance
    from webapp.services import training
    from webapp.services import workflow as wf

    course = course_named("电工技能提升班")
    rider = wf.start_instance("training_registration", demo["rider1"], {
        "course": course.id, "real_name": "马超", "occupation": "delivery",
        "occupation_confirmed": True, "phone": "13800138000",
        "id_card": id_card("50010319900307123")}).id
    db.session.commit()
    move_into_the_past(course)
    end_the_course()
    training.save_register(course, demo["unit_admin"],
                           {(s.id, rider) for s in course.schedule[:7]})
    training.decide_completion(course, demo["unit_admin"])
    db.session.commit()

    sign_in(phone, live_server, "unit_admin")
    phone.goto(f"{live_server}/courses/{course.id}/attendance")
    phone.get_by_role("link", name="更正 外卖骑手 马超 的结业结果").click()
    expect(phone.get_by_role("heading", name="更正结业结果 · 外卖骑手 马超")).to_be_visible()
    phone.get_by_label("第8次").check()
    phone.get_by_label("结业（可下载证书）").check()
    phone.get_by_label("更正原因").fill("第8次课签到表漏录，经授课老师核实到课")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(phone) == []
    screenshot(phone, "course-correct-form-360")
    phone.get_by_role("button", name="下一步：确认").click()
    expect(phone.get_by_text("出勤：7/10 次 → 8/10 次")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(phone) == []
    screenshot(phone, "course-correct-confirm-360")
    phone.get_by_role("button", name="确认更正").click()
    expect(phone.get_by_text("已更正 外卖骑手 马超 的结业结果")).to_be_visible()
    db.session.rollback()
    assert db.session.get(Instance, rider).status == "completed"


def test_a_worker_finds_a_course_and_registers_for_it_on_a_phone(phone, desktop, live_server,
                                                                  demo):
    """/courses on a 360 px phone: a worker gets the courses open to them (not the
    organisers' page), a course's page with its timetable and who may join, and 报名
    opens the form with the course chosen and its facts above it."""
    course = course_named("网约车驾驶员安全行车培训")
    sign_in(phone, live_server, "driver1")
    phone.goto(f"{live_server}/courses")
    expect(phone.get_by_role("heading", name="免费技能培训")).to_be_visible()
    expect(phone.get_by_text("没有需要您登记出勤的课程")).to_have_count(0)
    card = phone.locator("section", has=phone.get_by_role("heading",
                                                           name="网约车驾驶员安全行车培训"))
    expect(card.get_by_text("仅限网约车司机；21–60 周岁")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(phone) == []
    screenshot(phone, "courses-open-360")

    card.get_by_role("link", name="课程详情").click()
    expect(phone.get_by_role("heading", name="课表")).to_be_visible()
    expect(phone.get_by_text("渝中区职工服务中心二楼")).to_be_visible()
    expect(phone.locator("#timetable li")).to_have_count(len(course.schedule))
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(phone) == []
    screenshot(phone, "course-page-360")

    phone.get_by_role("link", name="报名", exact=True).click()
    expect(phone.get_by_label("培训课程")).to_have_value(str(course.id))
    facts = phone.locator("#course-facts [data-course]:visible")
    expect(facts).to_have_count(1)
    expect(facts.get_by_text("仅限网约车司机；21–60 周岁")).to_be_visible()
    other = course_named("骑手交通安全与应急救护")
    phone.get_by_label("培训课程").select_option(str(other.id))  # another course's facts
    expect(facts.get_by_text("仅限外卖配送员、快递员")).to_be_visible()
    expect(facts).to_have_count(1)
    phone.get_by_label("培训课程").select_option(str(course.id))
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(phone) == []
    screenshot(phone, "course-registration-form-360")

    sign_in(desktop, live_server, "driver1")
    desktop.goto(f"{live_server}/courses/open")
    assert serious_violations(desktop) == []
    screenshot(desktop, "courses-open-desktop")
    desktop.goto(f"{live_server}/courses/{course.id}")
    screenshot(desktop, "course-page-desktop")
