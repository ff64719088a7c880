"""The editor's help opens the definitions reference, and the diagram panel says one
thing about its diagram — no note (or image description) contradicting another."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP
from tests.browser.test_micro_wish import new_page, sign_in
from tests.webapp.test_workflow_service import demo  # noqa: F401

pytestmark = pytest.mark.browser

STALE = "这是上次检查通过时的流程图；改正问题后会更新。"
EMPTY = "内容检查通过后在这里显示流程图。"


def panel(page) -> tuple[list[str], str | None]:
    """The notes the diagram panel shows, and the description of the diagram if shown."""
    region = page.get_by_role("region", name="流程图")
    notes = [p.inner_text() for p in region.locator("p:visible").all()]
    image = page.locator("#diagram")
    return notes, image.get_attribute("alt") if image.is_visible() else None


def test_the_diagram_panel_says_one_thing_after_every_check(live_server, browser, demo):
    ctx, page = new_page(browser, DESKTOP)
    sign_in(page, live_server, "admin")
    page.goto(f"{live_server}/admin/definitions/micro_wish/edit")
    page.locator("#check-status.text-success").wait_for()
    editor = page.get_by_label("流程定义（YAML）")
    good = editor.input_value()
    bad = good.replace("kind: approval", "kind: aproval", 1)
    assert panel(page) == ([], "按当前内容画出的流程图")

    editor.fill(bad)  # the live check fails: the last good diagram, said to be that
    page.locator("#check-status.text-danger").wait_for()
    assert panel(page) == ([STALE], "上次检查通过时画出的流程图")

    page.get_by_role("button", name="检查").click()  # the server's check fails: no diagram
    page.locator("#problems .uf-problem").first.wait_for()
    assert panel(page) == ([EMPTY], None)
    editor = page.get_by_label("流程定义（YAML）")
    editor.fill(bad.replace("aproval", "aprova"))
    expect(page.locator("#problems")).to_contain_text("aprova")
    assert panel(page) == ([EMPTY], None)

    editor.fill(good)
    page.locator("#check-status.text-success").wait_for()
    assert panel(page) == ([], "按当前内容画出的流程图")
    ctx.close()


def test_the_help_line_opens_the_definitions_reference(live_server, browser, demo):
    ctx, page = new_page(browser, DESKTOP)
    sign_in(page, live_server, "admin")
    page.goto(f"{live_server}/admin/definitions/new?template=innovation_award")
    assert "docs/definitions.md" not in page.locator("main").inner_text()
    with page.expect_popup() as opened:
        page.get_by_role("link", name="查看流程定义格式说明").click()
    reference = opened.value
    reference.wait_for_load_state()
    expect(reference.get_by_role("heading", name="Process definitions")).to_be_visible()
    reference.get_by_role("link", name="People").first.click()
    assert reference.url.endswith("#people")
    ctx.close()
