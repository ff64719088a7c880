"""A city administrator makes a retreat batch on a 360 px phone: a closing date after the
start answered beside its field, then the batch made and listed first; the list and the
form at desktop width."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_micro_wish import serious_violations, sign_in
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from tests.webapp.test_retreat_batches import today

pytestmark = pytest.mark.browser

NAME = "2027年第二期劳模疗休养（南川金佛山）"


def test_create_a_retreat_batch_on_a_phone(phone, desktop, live_server, demo):
    sign_in(phone, live_server, "city_admin")
    phone.goto(f"{live_server}/retreat/quotas")
    phone.get_by_role("link", name="新建批次").click()
    phone.get_by_label("批次名称").fill(NAME)
    phone.get_by_label("英文名称").fill("2027 model-worker retreat, 2nd batch (Jinfo Mountain)")
    phone.get_by_label("疗休养地点").fill("南川金佛山职工疗休养基地")
    t = today()
    phone.get_by_label("开始日期").fill(str(t + timedelta(days=90)))
    phone.get_by_label("结束日期").fill(str(t + timedelta(days=95)))
    phone.get_by_label("推荐截止日期").fill(str(t + timedelta(days=92)))  # after the start
    phone.get_by_label("名额总数").fill("30")
    phone.get_by_role("button", name="创建批次").click()
    expect(phone.get_by_text("推荐截止日期不能晚于开始日期")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(phone) == []
    screenshot(phone, "retreat-batch-form-error-360")

    phone.get_by_label("推荐截止日期").fill(str(t + timedelta(days=45)))
    phone.get_by_role("button", name="创建批次").click()
    expect(phone.get_by_text("30 个名额已归入重庆市总工会")).to_be_visible()
    expect(phone.get_by_role("heading", name=NAME)).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "retreat-batch-created-360")
    phone.get_by_role("link", name="全部批次").click()
    expect(phone.locator(".batch-name").first).to_have_text(NAME)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(phone) == []
    screenshot(phone, "retreat-batches-360")
    db.session.rollback()   # end the test's read transaction: see what the server wrote

    sign_in(desktop, live_server, "city_admin")
    desktop.goto(f"{live_server}/retreat/quotas")
    expect(desktop.get_by_text("接受推荐中").first).to_be_visible()
    assert serious_violations(desktop) == []
    screenshot(desktop, "retreat-batches-1280")
    desktop.locator(".batch-row").first.click()
    desktop.get_by_role("link", name="编辑批次").click()
    expect(desktop.get_by_label("批次名称")).to_have_value(NAME)
    assert serious_violations(desktop) == []
    screenshot(desktop, "retreat-batch-form-1280")
