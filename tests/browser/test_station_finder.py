"""The station finder in Chromium, on a phone: a rider picks a station of another
district on the start form, and again on a request returned to them for revision."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.browser.test_micro_wish import fill_wish, new_page, serious_violations, sign_in
from tests.webapp.test_station_picker import _district_of, _open_stations, _other_district
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Instance, OrgUnit

pytestmark = pytest.mark.browser


def _far_station() -> tuple[str, str]:
    """(id, name) of an open station outside rider1's district."""
    station_id = sorted(_open_stations(_other_district(_district_of("rider1"))))[0]
    return station_id, db.session.get(OrgUnit, int(station_id)).name


def _rider_filling_a_wish(browser, base):
    """rider1 on a phone, signed in, the wish form filled in (not sent)."""
    context, page = new_page(browser, PHONE, is_mobile=True, has_touch=True)
    sign_in(page, base, "rider1")
    page.goto(f"{base}/processes/micro_wish/start")
    fill_wish(page)
    return context, page


def test_a_rider_finds_a_station_of_another_district_on_a_phone(live_server, browser, demo):
    station_id, _name = _far_station()
    other = _other_district(_district_of("rider1"))
    context, page = _rider_filling_a_wish(browser, live_server)
    page.get_by_label("驿站所在区县").select_option(str(other))
    page.get_by_role("button", name="查找").click()
    # The same form again: what was typed is kept, the district's stations listed.
    expect(page.get_by_label("心愿", exact=True)).to_have_value("一个新头盔")
    expect(page.locator("#station-found")).to_contain_text("个驿站可选")
    screenshot(page, "station-finder-start-phone")
    assert not serious_violations(page)
    page.locator("#station").select_option(station_id)
    page.get_by_role("button", name="提交").click()
    page.wait_for_url("**/instances/*")
    expect(page.get_by_text("已提交“微心愿”")).to_be_visible()
    db.session.rollback()  # a new transaction: what the server committed
    wish = db.session.scalars(select(Instance).order_by(Instance.id.desc())).first()
    assert wish.state["data"]["station"] == int(station_id)
    context.close()


def test_a_returned_request_finds_its_station_by_name(live_server, browser, demo):
    station_id, name = _far_station()
    rider_ctx, rider = _rider_filling_a_wish(browser, live_server)
    rider.get_by_role("button", name="提交").click()
    rider.wait_for_url("**/instances/*")
    instance_url = rider.url

    head_ctx, head = new_page(browser, DESKTOP)
    sign_in(head, live_server, "station_head")
    head.goto(f"{live_server}/inbox")
    head.get_by_role("link", name="一个新头盔").click()
    head.get_by_label("处理意见").fill("这个驿站不是离您最近的，请换一个")
    head.get_by_role("button", name="退回修改").click()
    head.wait_for_url("**/instances/*")
    head_ctx.close()

    rider.goto(f"{live_server}/inbox")
    rider.get_by_role("link", name="一个新头盔").click()
    # The form comes back filled in, the request's station chosen, the finder above it.
    expect(rider.get_by_label("心愿", exact=True)).to_have_value("一个新头盔")
    chosen = rider.locator("#station").input_value()
    assert chosen and chosen != station_id
    rider.get_by_label("驿站所在区县").select_option("")  # all districts
    rider.get_by_label("驿站名称或地址").fill(name)
    rider.get_by_role("button", name="查找").click()
    expect(rider.locator("#station option", has_text=name)).to_have_count(1)
    screenshot(rider, "station-finder-revise-phone")
    assert not serious_violations(rider)
    rider.locator("#station").select_option(station_id)
    rider.get_by_role("button", name="重新提交").click()
    rider.wait_for_url("**/instances/*")
    assert rider.url == instance_url
    expect(rider.get_by_text("已重新提交").first).to_be_visible()
    db.session.rollback()  # a new transaction: what the server committed
    wish = db.session.get(Instance, int(instance_url.rsplit("/", 1)[1]))
    assert wish.status == "running" and wish.state["data"]["station"] == int(station_id)
    rider_ctx.close()


def test_the_duty_slots_follow_the_station_chosen(live_server, browser, demo):
    """js/slots.js: choosing another station lists its slots at once, no button."""
    from datetime import datetime, timedelta, timezone

    from webapp.services.activities import create_slot

    here, there = sorted(_open_stations(_district_of("volunteer1")))[:2]
    soon = datetime.now(timezone.utc) + timedelta(days=3)
    slot = create_slot(db.session.get(OrgUnit, int(there)), soon, soon + timedelta(hours=4), 2,
                       None)
    db.session.commit()
    context, page = new_page(browser, PHONE, is_mobile=True, has_touch=True)
    sign_in(page, live_server, "volunteer1")
    page.goto(f"{live_server}/processes/station_master/start?station={here}")
    page.get_by_label("联系电话").fill("13700137000")
    expect(page.locator("[data-uf-slot-refresh]")).to_be_hidden()  # not needed with JS
    assert str(slot.id) not in page.locator("#slot option").evaluate_all(
        "options => options.map(o => o.value)")
    page.locator("#station").select_option(there)
    expect(page.locator(f"#slot option[value='{slot.id}']")).to_have_count(1)
    expect(page.locator("#slot")).to_have_value("")
    expect(page.get_by_label("联系电话")).to_have_value("13700137000")  # the page stayed
    screenshot(page, "slots-follow-station-phone")
    page.locator("#slot").select_option(str(slot.id))
    with page.expect_navigation():
        page.get_by_role("button", name="提交").click()
    screenshot(page, "slots-follow-station-submitted-phone")
    expect(page.get_by_text("所选时段不属于所选驿站")).to_have_count(0)
    page.wait_for_url("**/instances/*")
    context.close()
