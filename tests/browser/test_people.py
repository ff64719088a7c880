"""People management on a 360 px phone: create a user, then import a file after its check."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD
from tests.webapp.test_people_admin import staff  # noqa: F401
from webapp.extensions import db
from webapp.services.users import find_user

pytestmark = pytest.mark.browser

CSV = ("用户名,姓名,单位编码,角色,电话\n"
       "phone.one,手机导入一,cq-yz-co,职工,13800000001\n"
       "phone.two,手机导入二,火星,职工,\n").encode("gbk")


def sign_in(page, base, username):
    page.goto(f"{base}/auth/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/")


def exists(username: str) -> bool:
    db.session.rollback()  # a fresh read: the live server wrote meanwhile
    return find_user(username) is not None


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 360


def test_create_a_user_and_import_a_file_on_a_phone(phone, live_server, staff):
    sign_in(phone, live_server, "yz_admin")
    phone.goto(f"{live_server}/admin/users")
    phone.get_by_role("link", name="新建用户").click()
    phone.get_by_label("用户名").fill("phone.new")
    phone.get_by_label("姓名").fill("新来的骑手")
    phone.get_by_label("所属单位编码").fill("cq-yz-co")
    phone.get_by_label("电话").fill("13900000000")
    assert fits(phone)
    screenshot(phone, "people-new-user-360")
    phone.get_by_role("button", name="新建用户").click()
    expect(phone.locator("#shown-password")).to_be_visible()
    assert exists("phone.new") and fits(phone)
    screenshot(phone, "people-password-360")
    phone.get_by_role("link", name="完成").click()
    expect(phone.locator("#memberships")).to_contain_text("职工")
    assert fits(phone)
    screenshot(phone, "people-user-360")

    phone.goto(f"{live_server}/admin/users")
    phone.get_by_role("link", name="导入人员和单位").click()
    phone.set_input_files("#file", files=[{"name": "people.csv", "mimeType": "text/csv",
                                           "buffer": CSV}])
    phone.get_by_role("button", name="上传并检查").click()
    expect(phone.locator("#rejected")).to_contain_text("未知的单位编码“火星”")
    expect(phone.locator("#summary")).to_contain_text("可以导入 1 行，退回 1 行")
    assert not exists("phone.one") and fits(phone)
    screenshot(phone, "people-import-check-360")
    phone.get_by_role("button", name="确认导入 1 行").click()
    expect(phone.locator("#passwords")).to_contain_text("phone.one")
    assert exists("phone.one") and fits(phone)
    screenshot(phone, "people-import-done-360")
