"""A rider signs in on a phone and sees the home page — in the real browser."""
from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot, wait_until
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def rider(org, make_user):
    return make_user("rider1", ("worker", org["company"]), unit=org["company"],
                     name="外卖骑手 马超")


def _no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_rider_signs_in_on_a_phone_and_sees_home(live_server, phone, rider):
    phone.goto(f"{live_server}/")
    assert "/auth/login" in phone.url
    assert _no_horizontal_scroll(phone)
    screenshot(phone, "login-phone")

    phone.get_by_label("用户名").fill("rider1")
    phone.get_by_label("密码").fill(PASSWORD)
    phone.get_by_role("button", name="登录").click()
    phone.wait_for_url(f"{live_server}/")
    assert phone.get_by_role("heading", name="您好，外卖骑手 马超").is_visible()
    assert phone.get_by_text("我的账户").is_visible()
    assert _no_horizontal_scroll(phone)
    screenshot(phone, "home-phone")

    # The menu folds away on a phone and opens with the toggler (Bootstrap JS served locally).
    phone.get_by_role("button", name="展开菜单").click()
    # Once the menu has finished opening (a tap while it still slides open can land on
    # whatever is under it on a busy machine).
    phone.locator("#nav-main.show").wait_for()
    wait_until(phone, "!document.querySelector('.collapsing')")
    with phone.expect_navigation(url="**/auth/login"):
        phone.get_by_role("button", name="退出").click()
    assert phone.get_by_text("您已安全退出").is_visible()


def test_wrong_password_is_explained_on_the_page(live_server, phone, rider):
    phone.goto(f"{live_server}/auth/login")
    phone.get_by_label("用户名").fill("rider1")
    phone.get_by_label("密码").fill("not-my-password")
    phone.get_by_role("button", name="登录").click()
    assert phone.get_by_role("alert").filter(has_text="用户名或密码不正确").is_visible()


def test_desktop_home_and_language_switch(live_server, desktop, rider):
    desktop.goto(f"{live_server}/auth/login")
    desktop.get_by_label("用户名").fill("rider1")
    desktop.get_by_label("密码").fill(PASSWORD)
    desktop.get_by_role("button", name="登录").click()
    desktop.wait_for_url(f"{live_server}/")
    desktop.get_by_role("button", name="English").click()
    desktop.wait_for_load_state()
    assert desktop.get_by_role("heading", name="Hello, 外卖骑手 马超").is_visible()
    screenshot(desktop, "home-desktop-en")


@pytest.fixture
def shared_tablet(browser):
    """A browser as a person's is: Playwright turns Chromium's back/forward cache off by
    default (for steadier tests); this one keeps it on."""
    from tests.browser.conftest import CHROMIUM, PHONE

    launched = browser.browser_type.launch(
        executable_path=CHROMIUM, ignore_default_args=["--disable-back-forward-cache"],
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
    context = launched.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                   locale="zh-CN")
    yield context.new_page()
    context.close()
    launched.close()


def test_back_after_signing_out_shows_nothing_of_the_last_person(live_server, shared_tablet,
                                                                  rider):
    """A rest station's shared tablet: after the rider signs out, the next person's Back
    button must not bring their page back from the browser's caches (pages are
    ``Cache-Control: no-store``); the browser asks again and gets the sign-in page."""
    phone = shared_tablet
    phone.goto(f"{live_server}/auth/login")
    phone.get_by_label("用户名").fill("rider1")
    phone.get_by_label("密码").fill(PASSWORD)
    phone.get_by_role("button", name="登录").click()
    phone.wait_for_url(f"{live_server}/")
    phone.goto(f"{live_server}/account")
    assert "外卖骑手 马超" in phone.content()
    phone.get_by_role("button", name="展开菜单").click()
    phone.locator("#nav-main.show").wait_for()
    wait_until(phone, "!document.querySelector('.collapsing')")
    with phone.expect_navigation(url="**/auth/login"):
        phone.get_by_role("button", name="退出").click()
    # "commit": a page restored from the back/forward cache fires no load event.
    phone.go_back(wait_until="commit")
    wait_until(phone, "document.readyState === 'complete'")
    assert "外卖骑手 马超" not in phone.content()
    assert "/auth/login" in phone.url


def test_a_new_account_sets_its_own_password_first_on_a_phone(live_server, phone, org):
    """An account an administrator made: signing in leads to 修改密码, which says why and
    fits the phone; once changed, the home page opens."""
    from webapp.extensions import db
    from webapp.services import people

    _user, temporary = people.add_user(None, username="newrider", display_name="新骑手 王五",
                                       unit=org["company"], role="worker")
    db.session.commit()
    phone.goto(f"{live_server}/auth/login")
    phone.get_by_label("用户名").fill("newrider")
    phone.get_by_label("密码").fill(temporary)
    phone.get_by_role("button", name="登录").click()
    phone.wait_for_url(f"{live_server}/account/password")
    assert "管理员设置的临时密码" in phone.get_by_role("alert").first.inner_text()
    assert phone.get_by_text("欢迎，新骑手 王五。").is_visible()  # a first sign-in: not "back"
    assert _no_horizontal_scroll(phone)
    screenshot(phone, "temporary-password-phone")
    phone.get_by_label("管理员给您的临时密码").fill(temporary)
    phone.get_by_label("新密码", exact=True).fill("my-own-horse-staple")
    phone.get_by_label("再输入一次新密码").fill("my-own-horse-staple")
    phone.get_by_role("button", name="修改密码").click()
    phone.wait_for_url(f"{live_server}/")
    assert phone.get_by_role("heading", name="您好，新骑手 王五").is_visible()
