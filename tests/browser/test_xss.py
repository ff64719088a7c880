"""In a real browser: payloads in a request's title, story, comments and decision, and in
the applicant's name, run nothing on the instance page or the inbox; payloads in an imported
file's names and bad values run nothing on the import's report, the list of people or the
audit log — a ``uf_xss_*`` trap records any call and a dialog listener records any alert."""
from __future__ import annotations

import io
from contextlib import contextmanager
from datetime import datetime

import pytest
from playwright.sync_api import expect

from tests.browser.test_micro_wish import sign_in
from tests.webapp.test_pages import PNG, task_id_of, wish_form
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.services.export import CHINA
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
        # (The list repeats the name for phones, folded away on a desktop: the shown one.)
        expect(page.get_by_text("uf_xss_8()").filter(visible=True).first).to_be_visible()
        assert page.evaluate("window.__uf_xss_calls") == []
        page.goto(f"{live_server}/admin/audit")
        expect(page.get_by_text("uf_xss_8()").first).to_be_visible()
        assert page.evaluate("window.__uf_xss_calls") == []


def test_reassignment_and_delegation_notes_run_nothing(live_server, browser, demo, make_user):
    """Typed into the real forms: an administrator gives a wish nobody can check to a new
    station head with a note, the head hands it to a deputy with a note; neither note runs
    on the 待指派任务 page, the inbox, the notifications or the request's page."""
    from tests.webapp.test_workflow_service import NOW, wish_data
    from webapp.services import workflow as wf
    from webapp.services.org import unit_by_code

    station = unit_by_code("st-gyq")  # no head in the demo: nobody holds the check
    instance = wf.start_instance("micro_wish", demo["courier1"],
                                 wish_data(station=station.id), now=NOW)
    db.session.commit()
    task_id = task_id_of(instance.id)
    for name in ("gyq_head", "gyq_deputy"):
        make_user(name, ("station_head", station), unit=station, password=PASSWORD, name=name)
    with trapped_page(browser) as page:
        sign_in(page, live_server, "yuzhong_admin")
        page.goto(f"{live_server}/admin/unassigned")
        item = page.locator(f"#task-{task_id}")
        item.get_by_label("指派给（用户名）").fill("gyq_head")
        item.get_by_label("说明（可选）").fill(payload(11) + " 改派说明")
        item.get_by_role("button", name="指派").click()
        expect(page.get_by_text("已指派给 gyq_head")).to_be_visible()
        assert page.evaluate("window.__uf_xss_calls") == []
        page.goto(f"{live_server}/instances/{instance.id}")
        expect(page.get_by_text("uf_xss_11()").first).to_be_visible()  # shown, as text
        assert page.evaluate("window.__uf_xss_calls") == []
        page.context.clear_cookies()
        sign_in(page, live_server, "gyq_head")
        page.goto(f"{live_server}/tasks/{task_id}")
        page.get_by_label("转办给（用户名）").fill("gyq_deputy")
        page.locator("#delegate-comment").fill(payload(12) + " 转办说明")
        page.get_by_role("button", name="转办", exact=True).click()
        expect(page.get_by_text("已转办给 gyq_deputy")).to_be_visible()  # on the inbox
        assert page.evaluate("window.__uf_xss_calls") == []
        page.context.clear_cookies()
        sign_in(page, live_server, "gyq_deputy")
        for path in ("/inbox", "/notifications", f"/tasks/{task_id}"):
            page.goto(f"{live_server}{path}")
            page.wait_for_load_state("load")
            assert page.evaluate("window.__uf_xss_calls") == [], path
        page.goto(f"{live_server}/instances/{instance.id}")
        expect(page.get_by_text("uf_xss_12()").first).to_be_visible()
        expect(page.get_by_text("uf_xss_11()").first).to_be_visible()
        assert page.evaluate("window.__uf_xss_calls") == []


def test_downloads_keep_their_names_and_hostile_ones_set_nothing(app, live_server, browser,
                                                                  demo):
    """Chromium takes the real (UTF-8) name from ``filename*``; a stored name with quotes,
    CR/LF and a path gives a plain file name and sets no cookie."""
    from sqlalchemy import select

    from webapp.models import StoredFile

    instance_id = _plant(app)  # the wish carries a photo
    stored = db.session.scalar(select(StoredFile).where(StoredFile.instance_id == instance_id))
    stored.name, stored.mime = '../../"; x=y\r\nSet-Cookie: a=b; 名单.pdf', "application/pdf"
    db.session.commit()
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    try:
        sign_in(page, live_server, "admin")
        page.goto(f"{live_server}/admin/units")
        with page.expect_download() as got:
            page.get_by_role("link", name="导出 CSV").click()
        today = datetime.now(CHINA).strftime("%Y-%m-%d")
        assert got.value.suggested_filename == f"组织架构_{today}.csv"
        page.goto(f"{live_server}/instances/{instance_id}")
        with page.expect_download() as got:
            page.evaluate(f"() => {{ const a = document.createElement('a'); "
                          f"a.href = '/files/{stored.key}'; document.body.append(a); "
                          f"a.click(); }}")
        name = got.value.suggested_filename
        assert name.endswith(".pdf") and "名单" in name, name
        assert not set(name) & set('/\\"\r\n'), name
        assert "a" not in {c["name"] for c in context.cookies()}
    finally:
        context.close()
