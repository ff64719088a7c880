"""An overdue, escalated task in a station head's inbox and on its page, on a phone and a
desktop: marked, readable, nothing wider than the screen."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_micro_wish import sign_in
from tests.webapp.test_workflow_service import demo, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.services import workflow as wf

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_an_overdue_escalated_task_is_marked_in_the_inbox(live_server, request, demo, size):
    page = request.getfixturevalue(size)
    begun = datetime.now(timezone.utc) - timedelta(days=7)
    wf.start_instance("micro_wish", demo["rider1"], wish_data(title="逾期未核实的心愿"), now=begun)
    db.session.commit()
    wf.fire_due_timers(begun + timedelta(days=6))
    db.session.commit()
    sign_in(page, live_server, "station_head")
    page.goto(f"{live_server}/inbox")
    row = page.locator(".list-group-item", has_text="逾期未核实的心愿")
    expect(row.get_by_text("已督办")).to_be_visible()
    expect(row.get_by_text("已超时")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width
    screenshot(page, f"inbox-overdue-{size}")
    row.get_by_role("link", name="逾期未核实的心愿").click()
    expect(page.locator("[data-deadline]").first).to_contain_text("已超过办理期限")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    screenshot(page, f"task-overdue-{size}")
