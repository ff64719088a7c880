"""The inbox on a 360 px phone when more is open than the inbox counts: "2+" on the
badge, the pager saying "2+" pages and still leading to the last one."""
from __future__ import annotations

from datetime import timedelta

import pytest

import webapp.tasks.views as views
from tests.browser.conftest import screenshot
from tests.browser.test_micro_wish import serious_violations, sign_in
from tests.webapp.test_workflow_service import NOW, demo, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.services import workflow as wf
from webapp.services.users import find_user

pytestmark = pytest.mark.browser


def test_the_inbox_beyond_its_count_limit_on_a_phone(phone, live_server, app, demo,
                                                      monkeypatch):
    for i, user in enumerate(("rider1", "courier1", "driver1")):
        wf.start_instance("micro_wish", find_user(user), wish_data(title=f"心愿{i}"),
                          now=NOW + timedelta(minutes=i))
    db.session.commit()
    app.config["COUNT_LIMIT"] = 2
    monkeypatch.setattr(views, "PER_PAGE", 1)
    sign_in(phone, live_server, "station_head")
    phone.goto(f"{live_server}/inbox")
    badge = phone.locator("#mine-h .badge")
    assert badge.inner_text() == "2+"
    assert badge.locator("span").get_attribute("title") == "超过 2 项"
    pager = phone.locator("section[aria-labelledby=mine-h] nav")
    assert "1 / 2+" in pager.inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(phone) == []
    screenshot(phone, "inbox-count-limit-360")
    for shown in ("心愿1", "心愿2"):  # past the count: "next" still leads on
        pager.get_by_role("link", name="下一页").click()
        assert phone.get_by_role("link", name=shown).is_visible()
    assert "3 / 2+" in pager.inner_text()
    assert "disabled" in pager.locator("li").last.get_attribute("class")
