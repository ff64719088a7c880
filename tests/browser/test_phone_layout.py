"""Pages that crowded a 360 px phone: the request search's narrow columns, the messages'
buttons, a request's diagram.  Screenshots at phone and desktop size go to test-artifacts/."""
from __future__ import annotations

import pytest

from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.browser.test_micro_wish import fill_wish, new_page, sign_in
from tests.webapp.test_workflow_service import demo  # noqa: F401

pytestmark = pytest.mark.browser


def one_line(page, selector: str) -> bool:
    """Whether the text of every element matching ``selector`` sits on one line."""
    return page.eval_on_selector_all(selector, """els => els.every(el => {
        const range = document.createRange();
        range.selectNodeContents(el);
        const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
                             .map(r => Math.round(r.top)));
        return tops.size === 1; })""")


def submit_a_wish(browser, base) -> str:
    context, rider = new_page(browser, PHONE, is_mobile=True, has_touch=True)
    sign_in(rider, base, "rider1")
    rider.goto(f"{base}/processes/micro_wish/start")
    fill_wish(rider)
    rider.get_by_role("button", name="提交").click()
    rider.wait_for_url(f"{base}/instances/*")
    url = rider.url
    context.close()
    return url


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_narrow_columns_buttons_and_the_diagram_fit(live_server, browser, demo, size):
    viewport = PHONE if size == "phone" else DESKTOP
    request_url = submit_a_wish(browser, live_server)

    context, staff = new_page(browser, viewport, is_mobile=size == "phone")
    sign_in(staff, live_server, "admin")
    staff.goto(f"{live_server}/admin/instances")
    screenshot(staff, f"layout-instances-{size}")
    assert one_line(staff, "tbody td:nth-child(3)")  # 申请人, not one character a line
    screenshot(staff, f"layout-instances-{size}")
    context.close()

    context, head = new_page(browser, viewport, is_mobile=size == "phone")
    sign_in(head, live_server, "station_head")
    head.goto(f"{live_server}/notifications")
    assert head.get_by_role("button", name="查看").count() >= 1
    assert one_line(head, ".list-group-item .btn-link")  # 查看, not 查 over 看
    assert one_line(head, "a.btn-sm")  # 只看未读
    screenshot(head, f"layout-notifications-{size}")

    head.goto(request_url)
    diagram = head.locator(".uf-diagram-scroll img")
    diagram.wait_for()
    head.wait_for_function("document.querySelector('.uf-diagram-scroll img').complete")
    natural, shown = diagram.evaluate("img => [img.naturalWidth, img.clientWidth]")
    assert natural > 0 and shown == natural  # its own size, never shrunk
    box_width = head.locator(".uf-diagram-scroll").evaluate("el => el.clientWidth")
    page_width = head.evaluate("document.documentElement.scrollWidth")
    assert page_width <= viewport["width"]  # the diagram scrolls in its box, not the page
    if natural > box_width:
        box = head.locator(".uf-diagram-scroll")
        assert box.evaluate("el => el.scrollWidth") == natural
        # It opens on the current step (驿站核实), not at its left edge.
        head.wait_for_function(
            "document.querySelector('.uf-diagram-scroll').scrollLeft > 0")
        left, centre = box.evaluate(
            "el => [el.scrollLeft, parseFloat(el.dataset.focus) * el.scrollWidth]")
        assert left < centre < left + box_width
    screenshot(head, f"layout-diagram-{size}")
    context.close()
