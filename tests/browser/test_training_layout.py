"""Skills training's pages where a QA pass found things off-screen: the course report's
table of all courses (on a phone a card per course, the name a full line; on an English
desktop every column on the page) and the register of a decided course (each trainee's
certificate beside their name, on a phone's screen without scrolling sideways)."""
from __future__ import annotations

import pytest

from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.browser.test_accessibility import too_wide
from tests.browser.test_micro_wish import sign_in
from tests.webapp.test_workflow_service import demo  # noqa: F401

pytestmark = pytest.mark.browser


def open_as(browser, base: str, username: str, size: str, locale: str):
    phone = size == "phone"
    context = browser.new_context(viewport=PHONE if phone else DESKTOP, is_mobile=phone,
                                  has_touch=phone, locale="zh-CN")
    page = context.new_page()
    sign_in(page, base, username)
    if locale == "en":
        page.locator("footer button[value=en]").click()  # the account's language wins
        page.wait_for_url(f"{base}/")
    return context, page


def on_screen(page, selector: str) -> list[bool]:
    """Whether each element matching ``selector`` lies within the viewport's width, as the
    page opens (no sideways scrolling, of the page or of a box inside it)."""
    return page.eval_on_selector_all(selector, """els => els.map(el => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth; })""")


@pytest.fixture
def decided(demo):
    """电工技能提升班 decided: rider1 completed, driver1 completed and then corrected to
    not completed (the certificate withdrawn)."""
    from tests.webapp.test_training import (REAL_NAMES, TRAINEES, course_named,
                                            end_the_course, move_into_the_past)
    from tests.webapp.test_union_processes import id_card
    from webapp.extensions import db
    from webapp.services import training
    from webapp.services import workflow as wf

    course = course_named("电工技能提升班")
    ids = {}
    for who in ("rider1", "driver1"):
        occupation, phone, first17 = TRAINEES[who]
        ids[who] = wf.start_instance("training_registration", demo[who], {
            "course": course.id, "real_name": REAL_NAMES[who], "occupation": occupation,
            "occupation_confirmed": True, "phone": phone, "id_card": id_card(first17)}).id
    db.session.commit()
    move_into_the_past(course)
    end_the_course()
    sessions = [s.id for s in course.schedule]
    training.save_register(course, demo["unit_admin"],
                           {(s, i) for i in ids.values() for s in sessions})
    training.decide_completion(course, demo["unit_admin"])
    db.session.commit()
    training.correct_completion(course, demo["unit_admin"], ids["driver1"], set(sessions[:6]),
                                "failed", "重复签到")
    db.session.commit()
    return course


@pytest.mark.parametrize("size", ["phone", "desktop"])
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_the_course_report_s_table_is_readable(live_server, browser, decided, size, locale):
    context, page = open_as(browser, live_server, "city_admin", size, locale)
    page.goto(f"{live_server}/reports/courses")
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, too_wide(page)
    table = page.locator("#courses-table")
    # Nothing scrolls out of sight inside the table's box: every number is on the screen.
    assert table.evaluate("el => el.parentElement.scrollWidth <= el.parentElement.clientWidth + 1")
    assert all(on_screen(page, "#courses-table tbody td"))
    names = page.locator("#courses-table tbody th[scope=row]")
    assert names.count() >= 2
    # A course's name is read in a line or two, not two characters a line.
    name_widths = names.evaluate_all("els => els.map(el => el.getBoundingClientRect().width)")
    assert min(name_widths) >= (280 if size == "phone" else 150), name_widths
    if size == "phone":
        # A card per course: each number beside its heading.
        first = names.first.evaluate("el => el.parentElement.querySelector('td').textContent")
        label = page.locator("#courses-table tbody td").first.evaluate(
            "el => getComputedStyle(el, '::before').content")
        assert first and label.strip('"') in ("开课日期", "Course starts")
    else:
        headings = page.locator("#courses-table thead th")
        assert all(on_screen(page, "#courses-table thead th")), headings.all_text_contents()
    # The waiting-list chart says nobody waits, above a table of zeros.
    assert page.locator(".uf-chart-empty").first.text_content().strip() in (
        "没有课程有人候补。", "No course has anyone on its waiting list.")
    screenshot(page, f"training-report-courses-{locale}-{size}")
    context.close()


@pytest.mark.parametrize("size", ["phone", "desktop"])
@pytest.mark.parametrize("username", ["city_admin", "yuzhong_admin"])
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_a_decided_register_shows_each_certificate_on_screen(live_server, browser, decided,
                                                             username, locale, size):
    context, page = open_as(browser, live_server, username, size, locale)
    page.goto(f"{live_server}/courses/{decided.id}/attendance")
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, too_wide(page)
    for selector in (".uf-certificate", ".uf-certificate-withdrawn"):
        assert page.locator(selector).count() == 1, selector
        assert page.locator(selector).is_visible(), selector
        assert on_screen(page, selector) == [True], selector
    # Nothing to save once every result is decided.
    assert page.locator("button[value=save]").count() == 0
    screenshot(page, f"training-register-decided-{username}-{locale}-{size}")

    # The withdrawn certificate: whose, which course, and the way back to both.
    page.locator(".uf-certificate-withdrawn").click()
    page.wait_for_load_state()
    whose = page.locator("#certificate-of").text_content()
    assert "何军" in whose and decided.title in whose
    # The request (the city's administrator oversees driver1's 江北区 request; 渝中区's
    # runs the course but does not) and the register.
    back = page.locator("#certificate-links a")
    assert back.count() == (2 if username == "city_admin" else 1)
    assert all(on_screen(page, "#certificate-links a"))
    screenshot(page, f"training-certificate-withdrawn-{username}-{locale}-{size}")
    back.last.click()
    page.wait_for_url(f"{live_server}/courses/{decided.id}/attendance")
    context.close()
