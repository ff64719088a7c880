"""Every HTML page, as each kind of person sees it: no serious or critical axe finding at
desktop width nor on a 360 px phone, nothing wider than the phone (a table may scroll in
its own box; the page itself must not), and no table heading squeezed to one character a
line.  One test per role (two of them in English too), so a failure names who met it;
then the training course's attendance register on a phone."""
from __future__ import annotations

import os
import re

import pytest
from sqlalchemy import select

from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.browser.test_micro_wish import serious_violations, sign_in
from tests.webapp.test_workflow_service import demo, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.models import Course, DutySlot, RetreatBatch
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code

pytestmark = pytest.mark.browser
PASSWORD = "demo-pass-2026"
ROLES = ["admin", "city_admin", "yuzhong_admin", "unit_admin", "station_head", "supervisor",
         "volunteer1", "rider1", "courier1", "driver1"]
PROCESSES = ["micro_wish", "worker_demand", "training_registration", "station_master",
             "retreat_nomination"]
# Pages each of them must have reached: a sign-in that silently failed, or a page
# refused to everyone, would otherwise leave nothing to check.
MUST_SEE = {
    "admin": {"/admin/calendar", "/admin/users", "/admin/audit", "/admin/unassigned",
              "/admin/definitions/micro_wish/edit", "/courses/{course}/attendance"},
    "city_admin": {"/reports", "/retreat/quotas/{batch}", "/admin/calendar"},
    "yuzhong_admin": {"/reports/demands", "/admin/unassigned", "/tasks/"},
    "unit_admin": {"/courses/{course}/attendance", "/courses/new", "/tasks/"},
    "station_head": {"/stations/{station}/slots", "/tasks/"},
    "supervisor": {"/admin/audit", "/admin/instances"},
    "volunteer1": {"/processes/station_master/start", "/wishes", "/instances/"},
    "rider1": {"/processes/micro_wish/start", "/stations", "/instances/"},
    "courier1": {"/processes/worker_demand/start", "/instances/"},
    "driver1": {"/processes/training_registration/start", "/instances/"},
}
PAGES = [
    "/", "/processes", *[f"/processes/{key}/start" for key in PROCESSES], "/requests", "/notices",
    "/inbox", "/wishes", "/stations", "/stations/{station}",
    "/stations/{station}/slots", "/notifications", "/account", "/account/password",
    "/account/notifications",
    "/courses", "/courses/new", "/courses/{course}/edit", "/courses/{course}/attendance",
    "/retreat/quotas", "/retreat/quotas/{batch}",
    "/reports", "/reports/processes", "/reports/steps", "/reports/wishes", "/reports/courses",
    "/reports/quotas", "/reports/five-ones", "/reports/five-ones/{branch}", "/reports/demands",
    "/admin/units", "/admin/units/{unit}", "/admin/units/new", "/admin/users",
    "/admin/users/{user}", "/admin/users/new", "/admin/users/{user}/password",
    "/admin/instances", "/admin/deliveries", "/admin/stations/import", "/admin/people/import",
    "/admin/unassigned", "/admin/calendar", "/admin/audit",
    "/admin/definitions/", "/admin/definitions/reference", "/admin/definitions/new",
    "/admin/definitions/micro_wish", "/admin/definitions/micro_wish/versions/1",
    "/admin/definitions/micro_wish/diff", "/admin/definitions/micro_wish/edit",
]
# UF_A11Y_SHOTS=1 keeps a screenshot of every page at both sizes, for people to look at.
SHOTS = bool(os.environ.get("UF_A11Y_SHOTS"))
LINKED = re.compile(r"^/(tasks|instances)/\d+$")


@pytest.fixture
def lived_in(demo):
    """The demo as it looks after some weeks: trainees with a register, duties, wishes,
    demands and a nomination of the city's people, and one open request of each kind
    from the demo workers, so every inbox has a task page to open."""
    from webapp.demo import _seed_trainees, seed_city_life, seed_city_stations

    _seed_trainees()
    seed_city_stations()
    seed_city_life(PASSWORD)
    station = unit_by_code("st-jfb")
    wf.start_instance("micro_wish", demo["rider1"], wish_data())
    wf.start_instance("worker_demand", demo["courier1"], {
        "category": "parking", "station": station.id, "phone": "13900139000",
        "description": "送件高峰期三轮车没有地方停，希望增设临时停车位。"})
    slot = db.session.scalars(select(DutySlot).where(DutySlot.station_id == station.id)
                              .order_by(DutySlot.starts_at.desc())).first()
    wf.start_instance("station_master", demo["volunteer1"], {
        "station": station.id, "slot": slot.id, "phone": "13700137000", "skills": ["policy"]})
    approval = db.session.scalar(select(Course).where(Course.requires_approval.is_(True)))
    wf.start_instance("training_registration", demo["driver1"], {
        "course": approval.id, "real_name": "何军", "occupation": "ride_hailing",
        "occupation_confirmed": True, "phone": "13700137000",
        "id_card": "500103198801027895"})
    batch = db.session.scalar(select(RetreatBatch))
    wf.start_instance("retreat_nomination", demo["courier1"], {
        "batch": batch.id, "honour": "frontline", "frontline": True, "new_employment": True,
        "id_card": "500103199206114569", "phone": "13900139000", "health_ok": True,
        "deeds": "从事快递配送八年，风雨无阻，连续三年获评公司优秀快递员，热心帮助新同事。"})
    db.session.commit()
    running = db.session.scalar(select(Course).where(Course.title == "外卖快递骑手职业技能提升班"))
    return {"station": station.id, "course": running.id, "batch": batch.id,
            "branch": unit_by_code("cq-yz-jfb-branch1").id, "unit": unit_by_code("cq-yz").id,
            "user": demo["rider1"].id}


def visit(page, url: str) -> int:
    response = page.goto(url)
    page.wait_for_load_state("load")
    return response.status if response else 0


def too_wide(page) -> list[str]:
    """What makes the page wider than the phone: the outermost elements past its edge
    that are not inside a box of their own that scrolls sideways.  (Measured against the
    phone's 360 px, not the document's width: a phone browser widens the layout to fit
    a page that overflows.)"""
    return page.evaluate("""limit => {
        if (document.documentElement.scrollWidth <= limit) return [];
        const scrolls = el => { for (let p = el.parentElement; p; p = p.parentElement) {
            const o = getComputedStyle(p).overflowX;
            if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; } return false; };
        const wide = [...document.body.querySelectorAll('*')]
            .filter(e => e.getBoundingClientRect().right > limit && !scrolls(e))
            .filter(e => !(e.parentElement && e.parentElement.getBoundingClientRect().right > limit));
        return [`${document.documentElement.scrollWidth}px`, ...wide.slice(0, 5).map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}`
                + `.${[...e.classList].join('.')} ${Math.round(e.getBoundingClientRect().right)}px`)];
    }""", PHONE["width"] + 1)


def crushed_headings(page) -> list[str]:
    """Table headings squeezed to one character a line (志/愿/者) by a table that
    shrinks its columns to the phone instead of scrolling in its box."""
    return page.evaluate("""() => [...document.querySelectorAll('main th')]
        .filter(th => th.offsetParent && th.innerText.replace(/\\s/g, '').length >= 2)
        .filter(th => { const range = document.createRange();
            range.selectNodeContents(th);
            // (wider than 2 px: text only for screen readers is clipped to 1 px)
            const tops = new Set([...range.getClientRects()].filter(r => r.width > 2)
                                 .map(r => Math.round(r.top)));
            return tops.size >= th.innerText.replace(/\\s/g, '').length; })
        .slice(0, 5).map(th => th.innerText.replace(/\\s/g, ''))""")


def pages_for(page, base: str, ids: dict) -> list[str]:
    """The fixed pages, then a few task and request pages linked from the person's
    inbox and request lists (three of each, differently titled: they differ by process)."""
    urls = [path.format(**ids) for path in PAGES]
    seen = set()
    for source in ("/inbox", "/requests", "/admin/instances"):
        if visit(page, base + source) != 200:
            continue
        links = page.eval_on_selector_all(
            "main a[href]", "as => as.map(a => [new URL(a.href).pathname, a.textContent])")
        for path, text in links:
            kind = path.split("/")[1]
            if LINKED.match(path) and path not in urls and len([u for u in seen if u[0] == kind]) < 3:
                key = (kind, text.strip()[:4])
                if key not in seen:
                    seen.add(key)
                    urls.append(path)
    return urls


def sweep(browser, base: str, username: str, ids: dict, locale: str):
    problems, visited = [], set()
    desktop_ctx = browser.new_context(viewport=DESKTOP, locale=locale)
    phone_ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                    device_scale_factor=1, locale=locale)
    desktop, phone = desktop_ctx.new_page(), phone_ctx.new_page()
    if username:
        for page in (desktop, phone):
            page.goto(f"{base}/auth/login")
            page.locator("#username").fill(username)
            page.locator("#password").fill(PASSWORD)
            page.locator("main button[type=submit]").click()
            page.wait_for_url(f"{base}/")
            english = page.locator("footer button[value=en]")
            if locale.startswith("en") and english.get_attribute("aria-pressed") != "true":
                english.click()  # the account's own language wins over the browser's
                page.wait_for_url(f"{base}/")
            assert page.locator("html").get_attribute("lang").startswith(locale[:2])
        urls = pages_for(desktop, base, ids)
    else:
        urls = ["/auth/login", "/no-such-page"]
    for path in urls:
        status = visit(desktop, base + path)
        if status in (401, 403, 404) and path != "/no-such-page":
            continue  # not this person's page
        if desktop.url.startswith(f"{base}/auth/login") and username:
            continue
        visited.add(path)
        for finding in serious_violations(desktop):
            problems.append(f"{path} desktop: {finding}")
        visit(phone, base + path)
        for finding in serious_violations(phone):
            problems.append(f"{path} 360px: {finding}")
        crushed = crushed_headings(phone)
        if crushed:
            problems.append(f"{path} 360px: headings one character a line: {crushed}")
        wide = too_wide(phone)
        if wide:
            problems.append(f"{path} 360px: page {wide[0]} wide: {wide[1:]}")
        if wide or crushed or SHOTS:
            name = f"a11y-{locale}-{username or 'anon'}-{re.sub(r'[^a-z0-9]+', '-', path) or 'home'}"
            screenshot(phone, name + "-360")
            if SHOTS:
                screenshot(desktop, name + "-desktop")
    desktop_ctx.close()
    phone_ctx.close()
    return problems, visited


# Everyone in Chinese; in English (longer words, the menu folded until 1200 px) the
# administrator, who sees the most pages, and a rider, who uses a phone.
PEOPLE = [(name, "zh-CN") for name in ROLES + [None]] + [("admin", "en-US"), ("rider1", "en-US")]


@pytest.mark.parametrize("username, locale", PEOPLE,
                         ids=[f"{n or 'signed-out'}-{loc}" for n, loc in PEOPLE])
def test_every_page_is_accessible_and_fits_a_phone(live_server, browser, lived_in, username,
                                                   locale):
    problems, visited = sweep(browser, live_server, username, lived_in, locale)
    for must in MUST_SEE.get(username, ()):
        path = must.format(**lived_in)
        assert any(v == path or (path.endswith("/") and v.startswith(path)) for v in visited), \
            f"{username} never reached {path}: {sorted(visited)}"
    assert not problems, "\n".join(problems)


def lines(page, selector: str) -> list[int]:
    """How many lines of text each element matching ``selector`` takes."""
    return page.eval_on_selector_all(selector, """els => els.map(el => {
        const range = document.createRange();
        range.selectNodeContents(el);
        return new Set([...range.getClientRects()].filter(r => r.width > 0)
                       .map(r => Math.round(r.top))).size; })""")


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_attendance_register_is_usable_on_a_phone(live_server, browser, lived_in, size):
    """The register of the running course: on a 360 px phone its sessions scroll sideways
    in their own box, a session's heading is "第3次" over its date, not a character a
    line, and the trainees' names stay on the left while the sessions scroll."""
    phone = size == "phone"
    context = browser.new_context(viewport=PHONE if phone else DESKTOP, is_mobile=phone,
                                  has_touch=phone, locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_server, "unit_admin")
    page.goto(f"{live_server}/courses/{lived_in['course']}/attendance")
    assert max(lines(page, ".uf-register thead th")) <= 2   # 第3次 / 12-01
    # A name (its result, certificate and 更正 go on the lines under it) and the count.
    names_and_counts = ".uf-register tbody th > a, .uf-register tbody td:last-child"
    assert set(lines(page, names_and_counts)) <= {0, 1}   # 外卖骑手 马超, 2/6 达标
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1, too_wide(page)
    box = page.locator("#register")
    if phone:
        assert page.get_by_text("学员姓名始终显示在左侧").is_visible()
        assert box.evaluate("el => el.scrollWidth > el.clientWidth")  # it scrolls, in its box
        box.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    screenshot(page, f"attendance-register-{size}")
    # The first trainee's name is still where it was, on top, and can be tapped.
    name = page.get_by_role("link", name="外卖骑手 马超")
    left = box.evaluate("el => el.getBoundingClientRect().left")
    assert abs(name.bounding_box()["x"] - left) < 12
    assert name.evaluate("""a => { const r = a.getBoundingClientRect();
        return a.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)); }""")
    # Every box the grid scrolls in can be reached (and scrolled) from a keyboard.
    assert box.get_attribute("tabindex") == "0"
    assert serious_violations(page) == []
    context.close()
