"""The main menu on a desktop: one row, each item on one line, in both languages — the
English labels are longer and had wrapped to two rows at 1366 px ("My / requests")."""
from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_micro_wish import new_page, sign_in
from tests.browser.test_phone_layout import one_line
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.services.users import find_user

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_menu_is_one_row_at_desktop_widths(live_server, browser, demo, locale):
    admin = find_user("city_admin")  # the longest menu: every list and the organisation
    admin.locale = locale
    db.session.commit()
    for width in (1366, 1200, 1440):
        context, page = new_page(browser, {"width": width, "height": 800})
        sign_in(page, live_server, "city_admin")
        nav = page.locator("nav.uf-navbar")
        links = nav.locator(".nav-link")
        assert links.count() >= 10 and links.first.is_visible()
        assert nav.evaluate("el => el.getBoundingClientRect().height") <= 64, width
        assert one_line(page, "nav.uf-navbar .nav-link"), width
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        screenshot(page, f"navbar-{locale}-{width}")
        context.close()


def test_a_long_name_is_shortened_and_a_narrower_english_menu_folds(live_server, browser,
                                                                    demo):
    admin = find_user("city_admin")
    admin.locale, admin.display_name = "en", "重庆市总工会城市工作管理员 王芳芳"
    db.session.commit()
    context, page = new_page(browser, {"width": 1366, "height": 800})
    sign_in(page, live_server, "city_admin")
    nav = page.locator("nav.uf-navbar")
    assert nav.evaluate("el => el.getBoundingClientRect().height") <= 64
    name = nav.locator(".uf-nav-name")
    assert name.get_attribute("title") == admin.display_name  # whole on hovering
    assert name.evaluate("el => el.scrollWidth > el.clientWidth")  # shown with an ellipsis
    page.set_viewport_size({"width": 1100, "height": 800})
    toggler = nav.get_by_role("button", name="Menu")
    assert toggler.is_visible() and not nav.locator(".nav-link").first.is_visible()
    toggler.click()
    nav.get_by_role("link", name="My requests").wait_for()
    assert one_line(page, "nav.uf-navbar .nav-link")
    context.close()


def test_unread_messages_show_beside_the_folded_menu_on_a_phone(live_server, browser, demo):
    """A rider's phone folds the menu away: the unread count (a reminder, a time-out)
    shows beside it, and the desktop menu does not show it twice."""
    from webapp.models import Notification

    rider = find_user("rider1")
    db.session.add(Notification(user_id=rider.id, kind="comment", title_key="comment",
                                params={}))
    db.session.commit()
    context, page = new_page(browser, {"width": 360, "height": 740})
    sign_in(page, live_server, "rider1")
    folded = page.locator("#nav-notifications-folded")
    assert folded.is_visible() and not page.locator("#nav-notifications").is_visible()
    assert page.locator("#unread-count-folded").inner_text().startswith("1")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "navbar-phone-unread")
    page.set_viewport_size({"width": 1366, "height": 800})
    assert not folded.is_visible() and page.locator("#nav-notifications").is_visible()
    context.close()


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_phone_bar_is_one_row_with_unread_messages_for_every_role(live_server, browser,
                                                                      demo, locale):
    """At 360 px the brand, the unread count and the menu button share one row: in
    English "Union Services" and "Messages 12" had pushed the button onto a second."""
    from webapp.models import Notification

    for username in ("city_admin", "station_head", "branch_secretary", "volunteer1",
                     "rider1"):
        user = find_user(username)
        user.locale = locale
        db.session.add_all([Notification(user_id=user.id, kind="comment",
                                         title_key="comment", params={})
                            for _ in range(12)])
    db.session.commit()
    for username in ("city_admin", "station_head", "branch_secretary", "volunteer1",
                     "rider1"):
        context, page = new_page(browser, {"width": 360, "height": 740}, is_mobile=True,
                                 has_touch=True)
        sign_in(page, live_server, username)
        nav = page.locator("nav.uf-navbar")
        brand, toggler = nav.locator(".navbar-brand"), nav.locator(".navbar-toggler")
        folded = page.locator("#nav-notifications-folded")
        assert folded.is_visible() and toggler.is_visible()
        top = brand.bounding_box()["y"]
        assert abs(toggler.bounding_box()["y"] - top) <= 12, username
        assert abs(folded.bounding_box()["y"] - top) <= 12, username
        assert nav.evaluate("el => el.getBoundingClientRect().height") <= 64, username
        count = page.locator("#unread-count-folded").inner_text()
        assert count.startswith("12"), count
        # Still says what it is to a screen reader, and the brand stays whole.
        assert folded.get_attribute("aria-label") or "Messages" in folded.inner_text() \
            or "消息" in folded.inner_text()
        assert brand.evaluate("el => el.scrollWidth <= el.clientWidth")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        screenshot(page, f"navbar-phone-{locale}-{username}")
        context.close()
