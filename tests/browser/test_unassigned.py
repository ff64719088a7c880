"""The 待指派任务 page on a 360 px phone: a wrong name answered beside the field, then
the task given to the new station head."""
from __future__ import annotations

import pytest
from sqlalchemy import delete

from tests.browser.conftest import screenshot
from tests.browser.test_micro_wish import serious_violations, sign_in
from tests.webapp.test_workflow_service import NOW, demo, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.models import Membership
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code

pytestmark = pytest.mark.browser


def test_reassign_on_a_phone(phone, live_server, demo, make_user):
    station = unit_by_code("st-jfb")
    db.session.execute(delete(Membership).where(Membership.role == "station_head",
                                                Membership.unit_id == station.id))
    db.session.commit()
    wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    make_user("new_head", ("station_head", station), unit=station,
              password="demo-pass-2026", name="新站长 钱芳")
    sign_in(phone, live_server, "yuzhong_admin")
    phone.goto(f"{live_server}/inbox")
    phone.get_by_role("link", name="去指派").click()
    field = phone.get_by_label("指派给（用户名）")
    field.fill("volunteer1")
    phone.get_by_role("button", name="指派").click()
    assert phone.get_by_text("该人员不符合办理条件").is_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(phone) == []
    screenshot(phone, "unassigned-360")
    phone.get_by_label("指派给（用户名）").fill("new_head")
    phone.get_by_role("button", name="指派").click()
    assert phone.get_by_text("已指派给 新站长 钱芳").is_visible()
    assert phone.get_by_text("没有待指派的任务。").is_visible()
