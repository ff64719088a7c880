"""The working-day calendar on a phone and a desktop: a holiday entered, listed, nothing
wider than the screen."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_micro_wish import sign_in
from tests.webapp.test_workflow_service import demo  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_holiday_is_entered_on_the_calendar_page(live_server, request, demo, size):
    page = request.getfixturevalue(size)
    sign_in(page, live_server, "city_admin")
    page.goto(f"{live_server}/admin/calendar?year=2027")
    page.get_by_label("日期", exact=True).fill("2027-02-08")
    page.get_by_label("名称（可选）").fill("春节")
    page.get_by_role("button", name="保存").click()
    row = page.locator("#calendar-days tr", has_text="2027-02-08")
    expect(row).to_contain_text("春节")
    expect(row).to_contain_text("放假")
    page.get_by_label("每行一天：日期,休或班,名称").fill("2027-02-30,休,春节")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.locator("#lines-problems")).to_contain_text("第 1 行")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    screenshot(page, f"calendar-{size}")
