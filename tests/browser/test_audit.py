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


@pytest.mark.parametrize("device, width", [("phone", 360), ("desktop", 1280)])
def test_a_supervisor_verifies_the_chain_and_reads_the_result(request, live_server, demo, app,
                                                              device, width):
    """校验哈希链 on the log's page: a progress page that reloads itself until the job's
    result — intact, the head's number and full hash — which the log's page shows too,
    nothing wider than the screen."""
    from tests.webapp.test_audit import run_queued_jobs

    page = request.getfixturevalue(device)
    sign_in(page, live_server, "supervisor")
    page.goto(f"{live_server}/admin/audit")
    page.get_by_role("button", name="校验哈希链").click()
    page.wait_for_url("**/admin/audit/verify/*")
    expect(page.get_by_text("校验已排队")).to_be_visible()
    run_queued_jobs(app)
    expect(page.get_by_text("哈希链完好")).to_be_visible(timeout=10_000)  # it reloaded
    # Measured once the reloaded page has its stylesheets: a width read while app.css is
    # still on its way (a busy machine) lays the full hash out unwrapped, 532 px.
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"audit-verify-{width}")
    page.get_by_role("link", name="审计日志").first.click()
    card = page.locator(".uf-verify")
    expect(card.get_by_text("哈希链完好")).to_be_visible()
    expect(card.locator("code.uf-hash")).to_be_visible()
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"audit-verified-{width}")
