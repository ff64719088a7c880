"""On a 360 px phone, a reviewer rejects with the step's form: a field required to
approve only does not stop the browser (nor the server) when rejecting, and the one
required either way is asked for beside itself."""
from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, screenshot
from tests.browser.test_micro_wish import new_page, sign_in
from tests.webapp.test_reject_form import VERIFY_FORM
from tests.webapp.test_workflow_service import DEFINITIONS, demo, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.services import workflow as wf

pytestmark = pytest.mark.browser


def test_a_reviewer_rejects_on_a_phone_with_the_finding_and_without_the_budget(
        live_server, browser, demo):
    text = (DEFINITIONS / "micro_wish.yaml").read_text(encoding="utf-8")
    assert wf.publish_text(text.replace("    return_to: [applicant]\n", VERIFY_FORM, 1),
                           "micro_wish.yaml").created
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data())
    db.session.commit()

    context, head = new_page(browser, PHONE, is_mobile=True, has_touch=True)
    sign_in(head, live_server, "station_head")
    head.goto(f"{live_server}/inbox")
    head.get_by_role("link", name="一个新头盔").first.click()
    budget, note = head.get_by_label("核定预算"), head.get_by_label("核实情况")
    # Required to approve only: not required in the browser's terms, and said so.
    assert budget.get_attribute("required") is None
    assert note.get_attribute("required") is not None
    assert head.get_by_text("（通过时必填）").is_visible()
    assert head.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    head.get_by_label("处理意见").fill("不符合心愿条件")
    head.get_by_role("button", name="驳回").click()
    # The finding is required either way: asked for beside it, the reason kept.
    head.wait_for_selector("#verify_note-error")
    assert "此项为必填项" in head.locator("#verify_note-error").inner_text()
    assert head.get_by_label("处理意见").input_value() == "不符合心愿条件"
    screenshot(head, "reject-form-phone-error")

    head.get_by_label("核实情况").fill("该骑手上月已在别处领过头盔")
    head.get_by_role("button", name="驳回").click()
    head.wait_for_url(f"{live_server}/instances/{instance.id}")
    page = head.content()
    assert "该骑手上月已在别处领过头盔" in page and "未通过" in page
    assert head.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()
