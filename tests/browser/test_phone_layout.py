"""Pages that crowded a 360 px phone: the request search's narrow columns, the messages'
buttons, a request's diagram.  Screenshots at phone and desktop size go to test-artifacts/."""
from __future__ import annotations

import pytest

from tests.browser.conftest import DESKTOP, PHONE, screenshot, wait_until
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
    # 申请人 (its own column on a desktop, under the title on a phone), not one
    # character a line; every column whole on the screen, none cut off (M5).
    if size == "desktop":
        assert one_line(staff, "#instances tbody td:nth-child(5)")
    else:
        assert staff.locator("#instances tbody td:nth-child(2) div").first.is_visible()
    visible = staff.eval_on_selector_all(
        "#instances th, #instances td", "cells => cells.filter(c => c.offsetParent)"
        ".map(c => Math.round(c.getBoundingClientRect().right))")
    assert visible and max(visible) <= viewport["width"], visible
    assert staff.get_by_role("columnheader", name="状态").is_visible()
    if size == "desktop":
        for header in ("流程", "当前环节", "提交时间"):
            assert staff.get_by_role("columnheader", name=header).is_visible()
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
    wait_until(head, "document.querySelector('.uf-diagram-scroll img').complete")
    natural, shown = diagram.evaluate("img => [img.naturalWidth, img.clientWidth]")
    assert natural > 0 and shown == natural  # its own size, never shrunk
    box_width = head.locator(".uf-diagram-scroll").evaluate("el => el.clientWidth")
    page_width = head.evaluate("document.documentElement.scrollWidth")
    assert page_width <= viewport["width"]  # the diagram scrolls in its box, not the page
    if natural > box_width:
        box = head.locator(".uf-diagram-scroll")
        assert box.evaluate("el => el.scrollWidth") == natural
        # It opens on the current step (驿站核实), not at its left edge.
        wait_until(head, "document.querySelector('.uf-diagram-scroll').scrollLeft > 0")
        left, centre = box.evaluate(
            "el => [el.scrollLeft, parseFloat(el.dataset.focus) * el.scrollWidth]")
        assert left < centre < left + box_width
    screenshot(head, f"layout-diagram-{size}")
    context.close()


def test_a_form_sent_back_on_a_phone_says_where_and_asks_for_the_photo_again(
        live_server, browser, demo, tmp_path):
    """The phone's first screen shows the mistakes (the wrong field is below the fold),
    the focus is on that summary, its link leads to the field, and the photo chosen
    before is asked for again — a browser never keeps it."""
    from tests.webapp.test_pages import PNG

    photo = tmp_path / "helmet.png"
    photo.write_bytes(PNG)
    context, rider = new_page(browser, PHONE, is_mobile=True, has_touch=True)
    sign_in(rider, live_server, "rider1")
    rider.goto(f"{live_server}/processes/micro_wish/start")
    fill_wish(rider, phone="1380013800")
    rider.locator("input[type=file]").set_input_files(str(photo))
    rider.get_by_role("button", name="提交").click()
    summary = rider.locator("[data-uf-error-summary]")
    summary.wait_for()
    assert "有 1 处需要修改" in summary.inner_text() and "联系电话" in summary.inner_text()
    assert rider.evaluate("document.activeElement.hasAttribute('data-uf-error-summary')")
    box = summary.bounding_box()
    assert box is not None and 0 <= box["y"] < PHONE["height"]  # on the first screen
    assert "请重新选择" in rider.locator(".uf-field:has(input[type=file])").inner_text()
    screenshot(rider, "form-sent-back-phone")
    summary.get_by_role("link").first.click()
    assert rider.evaluate("document.activeElement.id") == "phone"
    context.close()


def test_a_title_without_spaces_wraps_on_a_phone(live_server, browser, demo):
    """A wish titled forty W's: the inbox, the request and the wall stay 360 px wide and
    the claim button stays on the screen."""
    context, rider = new_page(browser, PHONE, is_mobile=True, has_touch=True)
    sign_in(rider, live_server, "rider1")
    rider.goto(f"{live_server}/processes/micro_wish/start")
    fill_wish(rider)
    rider.get_by_label("心愿", exact=True).fill("W" * 40)
    rider.get_by_role("button", name="提交").click()
    rider.wait_for_url(f"{live_server}/instances/*")
    request_url = rider.url
    context.close()

    context, head = new_page(browser, PHONE, is_mobile=True)
    sign_in(head, live_server, "station_head")
    for url in (f"{live_server}/inbox", request_url):
        head.goto(url)
        # (On a busy machine the document could still be between pages here.)
        wait_until(head, "document.documentElement !== null && document.readyState === 'complete'")
        assert head.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], url
    # The station head puts it on the wall, from the task page on the phone.
    head.goto(f"{live_server}/inbox")
    head.get_by_role("link", name="W" * 40).click()
    head.wait_for_url(f"{live_server}/tasks/*")  # on a busy machine: the task page, loaded
    wait_until(head, "document.readyState === 'complete'")
    wide = head.evaluate("""() => [...document.querySelectorAll('body *')].filter(
        e => e.getBoundingClientRect().right > 361).map(e => e.tagName + '.' + e.className
        + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 8)""")
    assert head.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], wide
    head.get_by_role("button", name="通过").click()
    head.wait_for_url(request_url)
    context.close()

    context, volunteer = new_page(browser, PHONE, is_mobile=True)
    sign_in(volunteer, live_server, "volunteer1")
    for url in (f"{live_server}/inbox", request_url, f"{live_server}/wishes"):
        volunteer.goto(url)
        assert volunteer.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], url
    volunteer.goto(f"{live_server}/inbox")
    claim = volunteer.get_by_role("button", name="认领").first
    right = claim.bounding_box()["x"] + claim.bounding_box()["width"]
    assert right <= PHONE["width"]
    assert one_line(volunteer, ".list-group-item form .btn")  # 认领, not 认 over 领
    screenshot(volunteer, "long-title-inbox-phone")
    context.close()


def test_keyboard_focus_shows_on_the_red_navigation_bar(live_server, browser, demo):
    """Tabbing through the navigation: the focused link is outlined in white, which
    the red bar shows (Bootstrap's own ring is a faint shadow there)."""
    context, page = new_page(browser, DESKTOP)
    sign_in(page, live_server, "supervisor")
    page.locator(".uf-navbar .navbar-brand").focus()
    page.keyboard.press("Tab")
    style = page.evaluate("""() => { const e = document.activeElement;
        const s = getComputedStyle(e);
        return [!!e.closest('.uf-navbar'), s.outlineStyle, s.outlineColor, s.outlineWidth]; }""")
    assert style == [True, "solid", "rgb(255, 255, 255)", "3px"], style
    screenshot(page, "nav-focus-desktop")
    context.close()
