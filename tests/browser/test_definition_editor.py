"""Issue 8's browser journey: a platform admin edits a definition, makes a mistake, sees
it at its line (live, as they type), fixes it, publishes, and finds the new version."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.browser.test_micro_wish import new_page, serious_violations, sign_in
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db

pytestmark = pytest.mark.browser


def test_admin_fixes_a_mistake_seen_at_its_line_and_publishes(live_server, browser, demo):
    ctx, page = new_page(browser, DESKTOP)
    sign_in(page, live_server, "admin")
    page.get_by_role("link", name="流程定义").first.click()
    page.wait_for_url("**/admin/definitions/")
    expect(page.locator('tr[data-key="micro_wish"]')).to_be_visible()
    assert not serious_violations(page)
    screenshot(page, "definitions-list-desktop")

    page.get_by_role("link", name="微心愿").click()
    page.get_by_role("link", name="编辑并发布新版本").click()
    editor = page.get_by_label("流程定义（YAML）")
    page.locator("#check-status.text-success").wait_for()  # the page checks itself on load
    expect(page.locator("#diagram")).to_be_visible()
    original = editor.input_value()

    # A typo in a step kind: the live check marks its line, in the list and the gutter.
    lines = original.split("\n")
    line = next(i for i, text in enumerate(lines, 1) if text.strip() == "kind: approval")
    lines[line - 1] = lines[line - 1].replace("approval", "aproval")
    editor.fill("\n".join(lines))
    problem = page.locator(f'#problems .uf-problem[data-line="{line}"]')
    problem.wait_for()
    assert "aproval" in problem.inner_text() and f"第 {line} 行" in problem.inner_text()
    expect(page.locator(f'.uf-gutter-line.uf-bad[data-line="{line}"]')).to_be_visible()
    assert editor.get_attribute("aria-invalid") == "true"
    problem.get_by_role("link").click()  # selects the line in the editor
    assert page.locator("#cursor-line").inner_text() == f"光标在第 {line} 行"
    assert not serious_violations(page)
    screenshot(page, "definition-error-desktop")

    # Publishing anyway is refused by the server; what was typed is kept.
    page.get_by_role("button", name="发布为新版本").click()
    page.locator(f'#problems .uf-problem[data-line="{line}"]').wait_for()
    assert "aproval" in page.get_by_label("流程定义（YAML）").input_value()

    # Fixed, and a visible change: the new version is published and listed.
    fixed = original.replace("name: 驿站核实", "name: 驿站站长核实", 1)
    editor = page.get_by_label("流程定义（YAML）")
    editor.fill(fixed)
    page.locator("#check-status.text-success").wait_for()
    expect(page.locator("#diagram")).to_be_visible()
    page.get_by_role("button", name="发布为新版本").click()
    page.wait_for_url("**/admin/definitions/micro_wish")
    expect(page.get_by_text("已发布“微心愿”第 2 版")).to_be_visible()
    expect(page.locator('#versions tr[data-version="2"]')).to_be_visible()
    assert not serious_violations(page)
    screenshot(page, "definition-published-desktop")

    page.get_by_role("link", name="与上一版比较").click()
    assert page.locator("#diff-summary").inner_text() == "新增 1 行，删除 1 行。"
    assert not serious_violations(page)
    ctx.close()


def test_the_editor_works_on_a_phone(live_server, browser, demo):
    ctx, page = new_page(browser, PHONE, is_mobile=True, has_touch=True)
    sign_in(page, live_server, "admin")
    page.goto(f"{live_server}/admin/definitions/new?template=innovation_award")
    page.locator("#check-status.text-success").wait_for()
    editor = page.get_by_label("流程定义（YAML）")
    editor.fill(editor.input_value().replace("kind: publicity", "kind: publicty", 1))
    page.locator("#problems .uf-problem").first.wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways ({width}px)"
    assert not serious_violations(page)
    screenshot(page, "definition-error-phone")
    page.goto(f"{live_server}/admin/definitions/")
    assert not serious_violations(page)
    screenshot(page, "definitions-list-phone")
    ctx.close()


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 800}, PHONE],
                         ids=["desktop-1366", "phone-360"])
def test_a_version_diff_gives_its_width_to_the_text(live_server, browser, demo, viewport):
    """The two line-number columns had half the table and the text was cut off
    ("- {name: budget, type: dec…"): the numbers are as narrow as their digits, and a
    long line wraps within the page, on a desktop and a phone (M7)."""
    from webapp.services import definitions as defs
    from webapp.services import workflow as wf
    from webapp.services.users import find_user

    source = wf.latest_version("micro_wish").source
    assert "max: 500, places: 2" in source
    published = defs.publish(source.replace("max: 500, places: 2", "max: 800, places: 2"),
                             find_user("admin"), key="micro_wish")
    assert published.published is not None
    db.session.commit()
    ctx, page = new_page(browser, viewport, is_mobile=viewport is PHONE)
    sign_in(page, live_server, "admin")
    page.goto(f"{live_server}/admin/definitions/micro_wish/diff?a=1&b=2")
    table = page.locator("#diff")
    widths = table.evaluate(
        "t => [...t.rows[0].cells].map(c => c.getBoundingClientRect().width)")
    old_no, new_no, mark, text = widths
    assert max(old_no, new_no, mark) <= 48, widths  # three digits, not a quarter each
    assert text >= 0.75 * sum(widths), widths
    changed = page.locator("#diff tr.uf-diff-add code")
    assert "max: 800" in changed.inner_text() and "show_if" in changed.inner_text()
    # Every line is whole on the page: nothing cut off, nothing beyond the screen.
    assert page.eval_on_selector_all("#diff code", """codes => codes.every(c => {
        const cell = c.closest('td').getBoundingClientRect();
        return [...c.getClientRects()].every(r => r.right <= cell.right + 1); })""")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    screenshot(page, f"definition-diff-{viewport['width']}")
    ctx.close()
