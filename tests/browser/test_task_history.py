"""A reviewer on a 360 px phone sees who is nominated and what was said before them on
the task they decide, and buttons that say what each decision does to the nomination."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.browser.test_micro_wish import new_page, sign_in
from tests.webapp.test_union_processes import id_card
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import RetreatBatch, Task
from webapp.services import workflow as wf
from workflows.runtime import Action

pytestmark = pytest.mark.browser


def objection_review(demo) -> Task:
    batch = db.session.scalar(select(RetreatBatch))
    instance = wf.start_instance("retreat_nomination", demo["rider1"], {
        "batch": batch.id, "honour": "frontline", "frontline": True, "new_employment": True,
        "id_card": id_card(), "phone": "13800138000", "health_ok": True,
        "deeds": "从事外卖配送五年，累计安全配送三万余单，多次见义勇为，获评区级优秀骑手。"})
    db.session.commit()
    said = {"unit_review": "事迹属实，同意推荐。", "district_review": "同意，报市总工会。",
            "city_review": None}
    for step, comment in said.items():
        task = db.session.scalar(select(Task).where(Task.instance_id == instance.id,
                                                    Task.status == "open"))
        assert task.step == step
        wf.perform(instance.id, Action("approve", task=task.key, comment=comment),
                   _holder(task))
        db.session.commit()
    notice = db.session.scalar(select(Task).where(Task.instance_id == instance.id,
                                                  Task.status == "open"))
    wf.perform(instance.id, Action("object", task=notice.key,
                                   comment="该同志今年已参加过区里组织的疗休养。"), demo["courier1"])
    db.session.commit()
    wf.fire_due_timers(datetime.now(timezone.utc) + timedelta(days=10))
    db.session.commit()
    review = db.session.scalar(select(Task).where(Task.instance_id == instance.id,
                                                  Task.status == "open"))
    assert review.step == "objection_review"
    return review


def _holder(task):
    from webapp.models import TaskAssignee, User

    return db.session.scalar(select(User).join(TaskAssignee, TaskAssignee.user_id == User.id)
                             .where(TaskAssignee.task_id == task.id))


def test_the_objection_review_on_a_phone_shows_the_nominee_and_the_history(
        live_server, browser, demo):
    review = objection_review(demo)
    context, page = new_page(browser, PHONE, is_mobile=True, has_touch=True)
    sign_in(page, live_server, "city_admin")
    page.goto(f"{live_server}/tasks/{review.id}")
    assert "外卖骑手 马超" in page.locator("#applicant").inner_text()
    history = page.locator("#task-history")
    assert history.get_by_text("事迹属实，同意推荐。").is_visible()
    assert history.get_by_text("同意，报市总工会。").is_visible()
    assert page.get_by_role("button", name="异议成立，取消推荐").is_visible()
    assert page.get_by_role("button", name="异议不成立，继续推荐").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "task-history-phone")
    # Upholding asks first (it ends the nomination); dismissing the question decides nothing.
    page.get_by_label("核查结论", exact=True).fill("经核实，该同志今年五月已参加疗休养，异议成立。")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="异议成立，取消推荐").click()
    assert page.url.endswith(f"/tasks/{review.id}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="异议成立，取消推荐").click()
    page.wait_for_url(f"{live_server}/instances/{review.instance_id}")
    assert "异议成立，取消推荐 · 异议核查" in page.locator(".uf-timeline").inner_text()
    context.close()

    context, wide = new_page(browser, DESKTOP)
    sign_in(wide, live_server, "city_admin")
    wide.goto(f"{live_server}/tasks/{review.id}")
    assert wide.locator("#task-history").is_visible()
    screenshot(wide, "task-history-desktop")
    context.close()
