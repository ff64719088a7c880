"""The station head's duty slots on a 360 px phone: who holds each slot and who waits,
and calling a slot off through its confirmation page."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.browser.conftest import PHONE, screenshot
from tests.browser.test_micro_wish import new_page, sign_in
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.services import workflow as wf
from webapp.services.activities import CHINA, create_slot
from webapp.services.org import unit_by_code

pytestmark = pytest.mark.browser

FITS = "document.documentElement.scrollWidth <= window.innerWidth"


def test_the_head_reads_the_roster_and_calls_a_slot_off_on_a_phone(live_server, browser,
                                                                   demo):
    station = unit_by_code("st-jfb")
    day = datetime.now(CHINA).replace(hour=9, minute=0, second=0, microsecond=0) \
        + timedelta(days=20)
    slot = create_slot(station, day, day + timedelta(hours=8), 1)
    for who, phone in (("volunteer1", "13700137000"), ("volunteer2", "13500135000")):
        wf.start_instance("station_master", demo[who],
                          {"station": station.id, "slot": slot.id, "phone": phone})
    db.session.commit()
    names = {who: demo[who].display_name for who in ("volunteer1", "volunteer2")}

    context, page = new_page(browser, PHONE, is_mobile=True, has_touch=True)
    sign_in(page, live_server, "station_head")
    page.get_by_role("link", name="值守时段与报名名单").first.click()
    item = page.locator(f"#slot-{slot.id}")
    assert names["volunteer1"] in item.locator(".held").inner_text()
    assert names["volunteer2"] in item.locator(".waiting").inner_text()
    assert page.evaluate(FITS), "the slots page scrolls sideways at 360 px"
    screenshot(page, "slot-roster-phone")

    item.get_by_role("link", name="取消此时段").click()
    assert page.evaluate(FITS), "the confirmation scrolls sideways at 360 px"
    assert names["volunteer2"] in page.locator("#affected").inner_text()
    page.get_by_role("button", name="确认取消此时段").click()  # no reason yet: refused
    assert page.locator(".invalid-feedback").first.inner_text() == "请填写取消理由"
    page.get_by_label("取消理由").fill("暴雨预警，驿站当天闭站")
    screenshot(page, "slot-cancel-phone")
    page.get_by_role("button", name="确认取消此时段").click()
    page.wait_for_url(f"{live_server}/stations/{station.id}/slots")
    assert "已通知 2 位" in page.locator(".alert-success").inner_text()
    assert "已取消" in page.locator(f"#slot-{slot.id}").inner_text()
    context.close()
