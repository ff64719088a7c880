"""The audit log on a 360 px phone: filters, entries and their diffs fit, nothing scrolls
sideways."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_micro_wish import sign_in
from tests.webapp.test_workflow_service import NOW, act, demo, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.services import workflow as wf

pytestmark = pytest.mark.browser


def test_audit_log_on_a_phone(phone, live_server, demo):
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    act(instance, "approve", demo["station_head"], comment="核实无误，同意上墙")
    sign_in(phone, live_server, "yuzhong_admin")
    phone.goto(f"{live_server}/")
    phone.get_by_role("link", name="审计日志").click()
    phone.wait_for_selector(".uf-audit-entry")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    phone.get_by_label("操作", exact=True).select_option("instance.")
    phone.get_by_role("button", name="查询").click()
    phone.wait_for_url("**action=instance.**")
    first = phone.locator(".uf-audit-entry").first
    expect(first.get_by_text("一个新头盔")).to_be_visible()
    expect(phone.get_by_text("核实无误，同意上墙")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "audit-360")
    first.get_by_role("link").click()
    phone.wait_for_url(f"**/instances/{instance.id}")
