"""In a real browser: payloads in a request's title, story, comments and decision, and in
the applicant's name, run nothing on the instance page or the inbox; payloads in an imported
file's names and bad values run nothing on the import's report, the list of people or the
audit log — a ``uf_xss_*`` trap records any call and a dialog listener records any alert."""
from __future__ import annotations

import io
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect

from tests.browser.test_micro_wish import sign_in
from tests.webapp.test_pages import PNG, task_id_of, wish_form
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.services.users import find_user

pytestmark = pytest.mark.browser
PASSWORD = "demo-pass-2026"
TRAP = """
window.__uf_xss_calls = [];
for (let n = 0; n < 40; n++) {
  window['uf_xss_' + n] = function () { window.__uf_xss_calls.push(n); };
}
"""


def payload(n: int) -> str:
    return f'<script>uf_xss_{n}()</script>"><img src=x onerror=uf_xss_{n}()>'


def _plant(app) -> int:
    """Seed through the app's own forms (CSRF off for this client only while seeding)."""
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        client = app.test_client()
        client.post("/auth/login", data={"username": "admin", "password": PASSWORD})
        rider = find_user("rider1")
        client.post(f"/admin/users/{rider.id}", data={
            "display_name": payload(1)[:60], "unit": "cq-yz-logistics", "email": "",
            "locale": "zh_CN"})
        client.post("/auth/logout")
        client.post("/auth/login", data={"username": "rider1", "password": PASSWORD})
        r = client.post("/processes/micro_wish/start", data={
            **wish_form(title="<img src=x onerror=uf_xss_2()>", story=payload(3),
                        contact_name="<script>uf_xss_4()"),
            "photo": (io.BytesIO(PNG), "p.png")}, content_type="multipart/form-data")
        assert r.status_code == 302, r.get_data(as_text=True)[:500]
        instance_id = int(r.headers["Location"].rsplit("/", 1)[1])
        client.post(f"/instances/{instance_id}/comments", data={"text": payload(5)})
        client.post(f"/instances/{instance_id}/comments",
                    data={"text": "javascript:uf_xss_6()"})
        return instance_id
    finally:
        app.config["WTF_CSRF_ENABLED"] = True


@contextmanager
def trapped_page(browser):
    """A page whose every ``uf_xss_N()`` call is recorded: the test's checks that none ran
    mean something only if the trap works, so it is sprung at the end; no dialog opens."""
    context = browser.new_context(locale="zh-CN")
    context.add_init_script(TRAP)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        yield page
        page.evaluate("uf_xss_0()")
        assert page.evaluate("window.__uf_xss_calls") == [0]
    finally:
        context.close()
    assert dialogs == []


def test_payloads_run_nothing_on_the_instance_page_and_the_inbox(app, live_server, browser,
                                                                  demo):
    instance_id = _plant(app)
    with trapped_page(browser) as page:
        sign_in(page, live_server, "rider1")
        page.goto(f"{live_server}/instances/{instance_id}")
        expect(page.locator("h1")).to_contain_text("uf_xss_2()")  # shown, as text
        expect(page.get_by_text("uf_xss_5()").first).to_be_visible()
        assert page.evaluate("window.__uf_xss_calls") == []
        page.goto(f"{live_server}/requests")
        assert page.evaluate("window.__uf_xss_calls") == []
        page.context.clear_cookies()  # signed out
        sign_in(page, live_server, "station_head")
        page.goto(f"{live_server}/inbox")
        expect(page.locator(f'a[href="/tasks/{task_id_of(instance_id)}"]').first).to_be_visible()
        expect(page.get_by_text("uf_xss_2()").first).to_be_visible()
        assert page.evaluate("window.__uf_xss_calls") == []
        page.goto(f"{live_server}/tasks/{task_id_of(instance_id)}")
        page.wait_for_load_state("load")
        assert page.evaluate("window.__uf_xss_calls") == []
        assert page.locator("a[href^='javascript:'], [src^='javascript:']").count() == 0


def test_an_imported_files_payloads_run_nothing_on_the_report_lists_and_audit_log(
        live_server, browser, demo):
    people = "\n".join([
        "username,display_name,unit,role,phone,email," + payload(7)[:40],
        f"xss.browser,{payload(8)[:60]},cq-yz-jfb,worker,,",
        "xss.bad,坏角色,cq-yz-jfb,<script>uf_xss_9(),,",
        "xss.bad2,坏电话,cq-yz-jfb,worker,<script>uf_xss_10(),"]) + "\n"
    with trapped_page(browser) as page:
        sign_in(page, live_server, "admin")
        page.goto(f"{live_server}/admin/people/import")
        page.set_input_files("#file", files=[{"name": "people.csv", "mimeType": "text/csv",
                                              "buffer": people.encode()}])
        page.get_by_role("button", name="上传并检查").click()
        expect(page.locator("#rejected")).to_contain_text("uf_xss_9()")  # as text
        expect(page.locator("#accepted")).to_contain_text("uf_xss_8()")
        assert page.evaluate("window.__uf_xss_calls") == []
        page.get_by_role("button", name="确认导入 1 行").click()
        expect(page.locator("#passwords")).to_contain_text("xss.browser")
        assert page.evaluate("window.__uf_xss_calls") == []
        page.goto(f"{live_server}/admin/users?q=xss.browser")
        expect(page.get_by_text("uf_xss_8()").first).to_be_visible()
        assert page.evaluate("window.__uf_xss_calls") == []
        page.goto(f"{live_server}/admin/audit")
        expect(page.get_by_text("uf_xss_8()").first).to_be_visible()
        assert page.evaluate("window.__uf_xss_calls") == []
