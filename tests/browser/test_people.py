"""People management on a 360 px phone and a desktop: create a user with a unit picked by
its name, filter the list, grant a role that needs a confirmation, and import a file
after its check, downloading the passwords and rejected rows it carries."""
from __future__ import annotations

import re
from pathlib import Path

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
    phone.get_by_label("所属单位", exact=True).fill("cq-yz-co")  # a code typed in works
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
    with phone.expect_download() as rejected:
        phone.locator("#rejected-download").click()
    assert rejected.value.suggested_filename.startswith("导入退回的行_")
    text = Path(rejected.value.path()).read_bytes().decode("utf-8-sig")
    assert text.splitlines()[1].startswith("3,phone.two,手机导入二,火星,职工,")
    phone.get_by_role("button", name="确认导入 1 行").click()
    expect(phone.locator("#passwords")).to_contain_text("phone.one")
    assert exists("phone.one") and fits(phone)
    screenshot(phone, "people-import-done-360")
    # The passwords to hand out, as a file the page carries (nothing kept on the server).
    with phone.expect_download() as passwords:
        phone.locator("#passwords-download").click()
    name = passwords.value.suggested_filename
    assert name.startswith("导入的临时密码_") and name.endswith(".csv")
    rows = Path(passwords.value.path()).read_bytes().decode("utf-8-sig").splitlines()
    shown = phone.locator("#passwords code.uf-secret").inner_text()
    assert rows[0] == "用户名,姓名,单位,单位编码,临时密码"
    assert rows[1] == f"phone.one,手机导入一,cq-yz-co,cq-yz-co,{shown}"


UNITS = {"yz": "渝中区总工会", "street": "解放碑街道工会", "company": "渝中某公司工会",
         "station": "解放碑驿站", "jb_street": "观音桥街道工会"}


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_pick_a_unit_by_its_name_and_filter_the_list(request, size, live_server, staff, org):
    page = request.getfixturevalue(size)
    for key, name in UNITS.items():
        org[key].name = name
    db.session.commit()
    sign_in(page, live_server, "yz_admin")
    page.goto(f"{live_server}/admin/users/new")
    page.get_by_label("用户名").fill(f"picked.{size}")
    page.get_by_label("姓名").fill("选单位的骑手")
    unit = page.get_by_label("所属单位", exact=True)
    unit.press_sequentially("解放碑", delay=30)
    # Suggestions by name, in the administrator's part of the tree only.
    options = page.locator(f"#{unit.get_attribute('list')} option")
    expect(options).to_have_count(2)
    assert options.evaluate_all("os => os.map(o => o.value)") == ["cq-yz-jfb", "cq-yz-st"]
    assert "解放碑驿站（解放碑街道工会）" in options.all_inner_texts()
    unit.fill("cq-yz-st")  # what picking the suggestion does: its code in the field
    expect(page.locator(".uf-unit-picked")).to_have_text("解放碑驿站（解放碑街道工会）")
    assert size == "desktop" or fits(page)
    screenshot(page, f"people-unit-picked-{size}")
    unit.press_sequentially("x")  # no such unit: nothing picked, and the server says so
    expect(page.locator(".uf-unit-picked")).to_have_text("")
    page.get_by_role("button", name="新建用户").click()
    expect(page.locator("#unit")).to_have_class(re.compile("is-invalid"))
    expect(page.locator("#unit ~ .invalid-feedback")).to_contain_text("没有这个单位编码")
    assert size == "desktop" or fits(page)
    screenshot(page, f"people-unit-error-{size}")
    page.get_by_label("所属单位", exact=True).fill("cq-yz-st")
    page.get_by_role("button", name="新建用户").click()
    expect(page.locator("#shown-password")).to_be_visible()
    assert exists(f"picked.{size}")

    # The list: the unit found by its name, then a role and a status.
    page.goto(f"{live_server}/admin/users")
    expect(page.locator("#people")).to_contain_text("渝中某公司工会")
    picker = page.locator("#unit")
    picker.press_sequentially("解放碑街道", delay=30)
    expect(page.locator(f"#{picker.get_attribute('list')} option")).to_have_count(1)
    picker.fill("cq-yz-jfb")
    page.get_by_label("角色").select_option("worker")
    page.get_by_label("账号状态").select_option("active")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#people tbody tr")).to_have_count(2)
    expect(page.locator("#people")).to_contain_text("worker1")
    expect(page.locator("#people")).to_contain_text(f"picked.{size}")
    expect(page.locator("#people")).not_to_contain_text("street_admin")
    assert "unit=cq-yz-jfb" in page.url and "role=worker" in page.url
    row = page.locator(f'tr[data-user="picked.{size}"]')
    expect(row).to_contain_text("解放碑驿站")
    expect(row).to_contain_text("在用")
    assert size == "desktop" or fits(page)
    screenshot(page, f"people-list-filtered-{size}")
    page.goto(f"{live_server}/admin/users?unit=nonsense&status=x")
    expect(page.locator("#filter-errors")).to_contain_text("没有这个单位编码")
    expect(page.locator("#filter-errors")).to_contain_text("没有这个账号状态")
    assert size == "desktop" or fits(page)
    screenshot(page, f"people-list-bad-filter-{size}")


def test_a_grant_that_combines_supervisor_and_administrator_is_confirmed_on_a_phone(
        phone, live_server, staff):
    sign_in(phone, live_server, "yz_admin")
    phone.goto(f"{live_server}/admin/users/{staff['street'].id}")
    phone.locator("#grant_role").select_option("supervisor")
    phone.locator("#grant_unit").fill("cq-yz")
    phone.get_by_role("button", name="授予角色").click()
    ask = phone.locator("#duties-confirm")
    expect(ask).to_contain_text("自己审查自己")
    expect(ask).to_be_focused()  # brought into view and to the screen reader
    assert fits(phone)
    screenshot(phone, "people-duties-confirm-360")
    phone.get_by_role("button", name="仍然授予").click()
    expect(phone.locator("#duties-notice")).to_contain_text("同时担任监督和管理员角色")
    assert fits(phone)
    screenshot(phone, "people-duties-notice-360")
    # The deactivate button asks first: the page now loads forms.js, which asks.
    asked = []
    phone.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    phone.locator("#deactivate").click()
    phone.wait_for_timeout(300)
    assert asked and "确定停用" in asked[0]
    db.session.rollback()
    assert find_user("street_admin").active
