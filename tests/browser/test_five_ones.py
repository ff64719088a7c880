"""The 五个一 progress page on a 360 px phone: readable, no sideways scrolling."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_micro_wish import sign_in
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp import demo as demo_data
from webapp.extensions import db

pytestmark = pytest.mark.browser


def test_progress_page_on_a_phone(phone, live_server, demo):
    demo_data.seed_city_stations()
    demo_data.seed_city_life("demo-pass-2026")
    db.session.commit()
    sign_in(phone, live_server, "city_admin")
    phone.goto(f"{live_server}/reports/five-ones")
    assert phone.locator("#branches .list-group-item").count() == 5
    branch = phone.locator("#branches").get_by_text("杨家坪街道第一党支部")
    expect(branch).to_be_visible()
    # The charts of hours and items name the branch too, with their numbers in a table.
    expect(phone.locator("svg").get_by_text("杨家坪街道第一党支部").first).to_be_attached()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "five-ones-360")
    branch.click()
    phone.wait_for_selector("#items")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "five-ones-branch-360")
