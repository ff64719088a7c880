"""Issue 4's browser journeys in Chromium: a rider on a phone, a station head on a desktop,
validation beside the fields, a second approver told it was already decided, and axe."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.webapp.test_workflow_service import demo  # noqa: F401

pytestmark = pytest.mark.browser
PASSWORD = "demo-pass-2026"


def sign_in(page, base, username):
    page.goto(f"{base}/auth/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/")


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes']]}" for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]


def fill_wish(page, *, phone="13800138000"):
    page.get_by_label("心愿", exact=True).fill("一个新头盔")
    page.get_by_label("类别").select_option("goods")
    page.get_by_label("心愿故事").fill("电动车头盔摔坏了，每天送餐都要戴，想要一个新的")
    page.get_by_label("所在驿站").select_option(label="解放碑户外劳动者驿站 · 渝中区总工会")
    page.get_by_label("联系人").fill("马超")
    page.get_by_label("联系电话").fill(phone)


def new_page(browser, viewport, **kwargs):
    context = browser.new_context(viewport=viewport, locale="zh-CN", **kwargs)
    return context, context.new_page()


def test_rider_submits_on_a_phone_admin_approves_on_a_desktop_rider_sees_it(
        live_server, browser, demo):
    rider_ctx, rider = new_page(browser, PHONE, is_mobile=True, has_touch=True)
    sign_in(rider, live_server, "rider1")
    rider.goto(f"{live_server}/processes")
    rider.get_by_role("link", name="开始办理").first.click()
    assert not serious_violations(rider)

    # A mistake first: the error appears beside the field, the rest is kept.
    fill_wish(rider, phone="12345")
    rider.get_by_role("button", name="提交").click()
    phone_error = rider.locator("#phone-error")
    assert "11 位手机号码" in phone_error.inner_text()
    assert rider.get_by_label("联系电话").get_attribute("aria-invalid") == "true"
    assert rider.get_by_label("心愿", exact=True).input_value() == "一个新头盔"
    screenshot(rider, "wish-errors-phone")
    assert not serious_violations(rider)

    rider.get_by_label("联系电话").fill("138 0013 8000")
    rider.get_by_role("button", name="提交").click()
    rider.wait_for_url("**/instances/*")
    expect(rider.get_by_text("已提交“微心愿”")).to_be_visible()
    assert rider.locator("#status").inner_text() == "办理中"
    instance_url = rider.url
    screenshot(rider, "wish-submitted-phone")
    assert not serious_violations(rider)

    head_ctx, head = new_page(browser, DESKTOP)
    sign_in(head, live_server, "station_head")
    head.goto(f"{live_server}/inbox")
    assert not serious_violations(head)
    head.get_by_role("link", name="一个新头盔").click()
    expect(head.get_by_text("13800138000")).to_be_visible()
    assert not serious_violations(head)
    head.get_by_label("处理意见").fill("情况属实，同意上墙")
    head.get_by_role("button", name="通过").click()
    head.wait_for_url("**/instances/*")
    expect(head.get_by_text("已通过").first).to_be_visible()
    screenshot(head, "wish-approved-desktop")

    rider.goto(instance_url)
    assert "心愿墙待认领" in rider.get_by_role("status").first.inner_text()
    expect(rider.get_by_text("情况属实，同意上墙")).to_be_visible()
    rider.goto(f"{live_server}/requests")
    expect(rider.get_by_text("下一步：心愿墙待认领")).to_be_visible()
    screenshot(rider, "wish-my-requests-phone")
    rider_ctx.close()
    head_ctx.close()


def test_second_approver_is_told_it_was_already_decided(live_server, browser, demo,
                                                       make_user):
    from webapp.services.org import unit_by_code

    station = unit_by_code("st-jfb")
    make_user("station_head2", ("station_head", station), unit=station, password=PASSWORD,
              name="驿站副站长 钱芳")
    rider_ctx, rider = new_page(browser, PHONE, is_mobile=True)
    sign_in(rider, live_server, "rider1")
    rider.goto(f"{live_server}/processes/micro_wish/start")
    fill_wish(rider)
    rider.get_by_role("button", name="提交").click()
    rider.wait_for_url("**/instances/*")

    first_ctx, first = new_page(browser, DESKTOP)
    second_ctx, second = new_page(browser, DESKTOP)
    sign_in(first, live_server, "station_head")
    sign_in(second, live_server, "station_head2")
    for page in (first, second):
        page.goto(f"{live_server}/inbox")
        page.get_by_role("link", name="一个新头盔").click()
    first.get_by_role("button", name="通过").click()
    first.wait_for_url("**/instances/*")
    second.get_by_role("button", name="通过").click()
    alert = second.get_by_role("alert")
    assert "已由 解放碑驿站站长 孙伟" in alert.inner_text() and "通过" in alert.inner_text()
    screenshot(second, "second-approver-desktop")
    assert not serious_violations(second)
    for ctx in (rider_ctx, first_ctx, second_ctx):
        ctx.close()


def test_conditional_field_appears_only_when_it_applies(live_server, browser, demo):
    ctx, page = new_page(browser, PHONE, is_mobile=True)
    sign_in(page, live_server, "rider1")
    page.goto(f"{live_server}/processes/micro_wish/start")
    budget = page.get_by_label("预计金额（元）")
    expect(budget).not_to_be_visible()
    page.get_by_label("类别").select_option("goods")
    expect(budget).to_be_visible()
    page.get_by_label("类别").select_option("service")
    expect(budget).not_to_be_visible()
    ctx.close()


def test_station_directory_and_wish_wall_on_a_phone(live_server, browser, demo):
    ctx, page = new_page(browser, PHONE, is_mobile=True, has_touch=True)
    sign_in(page, live_server, "rider1")
    page.goto(f"{live_server}/stations")
    page.get_by_label("充电").check()
    page.get_by_role("button", name="查找").click()
    expect(page.get_by_text("大坪爱心驿站")).to_be_visible()
    expect(page.get_by_text("小龙坎新就业形态劳动者驿站")).not_to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "stations-phone")
    assert not serious_violations(page)
    page.goto(f"{live_server}/wishes")
    expect(page.get_by_role("heading", name="心愿墙")).to_be_visible()
    screenshot(page, "wall-phone")
    assert not serious_violations(page)
    ctx.close()
