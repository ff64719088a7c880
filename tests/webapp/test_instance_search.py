"""事项查询 (/admin/instances) as staff use it (M5): a request found by its number, wildcards
searched for as themselves, a bad filter answered with a message (422, as the reports
do), a page past the end showing the last one, the process and current step shown, and
a unit filter within the viewer's part of the tree — on the page and in its download."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone

from sqlalchemy import select, update

from tests.webapp.test_pages import login, submit_wish  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Instance
from webapp.services.org import unit_by_code

PAGE = "/admin/instances"


def listed(response) -> list[int]:
    """The request numbers the page lists, in order."""
    return [int(n) for n in re.findall(r'<tr data-instance="(\d+)"',
                                       response.get_data(as_text=True))]


def downloaded(response) -> list[int]:
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    return [int(r[0]) for r in rows[1:]]


def test_a_request_is_found_by_its_number(login, demo):
    wish = submit_wish(login("rider1"))
    other = submit_wish(login("courier1"), title=f"编号{wish}的头盔")  # the number in a title
    city = login("city_admin")
    assert listed(city.get(PAGE, query_string={"q": str(wish)})) == [other, wish]
    for typed in (f"#{wish}", f" #{wish} ", f"＃{wish}"):
        assert listed(city.get(PAGE, query_string={"q": typed})) == [wish], typed
    assert downloaded(city.get(PAGE, query_string={"q": f"#{wish}", "format": "csv"})) == [wish]
    assert listed(city.get(PAGE, query_string={"q": "#99999999999"})) == []


def test_wildcards_are_searched_for_as_themselves(login, demo):
    plain = submit_wish(login("rider1"), title="一个新头盔")
    odd = submit_wish(login("courier1"), title="满意度100%_A\\B")
    city = login("city_admin")
    assert {plain, odd} <= set(listed(city.get(PAGE)))
    for typed in ("%", "_", "0%_", "\\", "A\\B"):
        assert listed(city.get(PAGE, query_string={"q": typed})) == [odd], typed
    assert downloaded(city.get(PAGE, query_string={"q": "_", "format": "csv"})) == [odd]


def test_a_bad_filter_is_answered_with_a_message_not_ignored(login, demo):
    submit_wish(login("rider1"))
    city = login("city_admin")
    for query, message in (("since=2026-13-01", "请按 年-月-日 填写日期"),
                           ("until=yesterday", "请按 年-月-日 填写日期"),
                           ("since=2026-05-02&until=2026-05-01", "截止日期不能早于起始日期"),
                           ("unit=abc", "没有这个单位"), ("process=nope", "没有这个流程")):
        response = city.get(f"{PAGE}?{query}")
        assert response.status_code == 422, query
        assert message in response.get_data(as_text=True) and listed(response) == [], query
        download = city.get(f"{PAGE}?{query}&format=csv")  # no file of a guess either
        assert download.status_code == 422 and download.mimetype == "text/html"
    city.post("/auth/locale", data={"locale": "en"})
    english = city.get(f"{PAGE}?since=2026-13-01").get_data(as_text=True)
    assert "2026-03-01" in english and "请按" not in english


def test_dates_are_days_in_china_time(login, demo):
    wish = submit_wish(login("rider1"))
    # 2025-06-01 17:30 UTC is 2 June, 01:30 in Chongqing.
    db.session.execute(update(Instance).where(Instance.id == wish).values(
        created_at=datetime(2025, 6, 1, 17, 30, tzinfo=timezone.utc)))
    db.session.commit()
    city = login("city_admin")
    assert wish in listed(city.get(f"{PAGE}?since=2025-06-02&until=2025-06-02"))
    assert wish not in listed(city.get(f"{PAGE}?since=2025-06-01&until=2025-06-01"))


def test_a_page_past_the_end_shows_the_last_page(login, demo, monkeypatch):
    from webapp.admin import views

    older = submit_wish(login("rider1"))
    newer = submit_wish(login("courier1"))
    monkeypatch.setattr(views, "PER_PAGE", 1)
    city = login("city_admin")
    query = "q=头盔&since=2000-01-01"
    response = city.get(f"{PAGE}?{query}&page=999")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and listed(response) == [older]
    assert "2 / 2" in page and "999 /" not in page
    assert listed(city.get(f"{PAGE}?{query}&page=1")) == [newer]
    alone = city.get(f"{PAGE}?q=%23{newer}&page=999")
    assert listed(alone) == [newer] and "999 /" not in alone.get_data(as_text=True)


def test_the_process_and_current_step_are_columns(login, demo):
    wish = submit_wish(login("rider1"))
    page = login("yuzhong_admin").get(f"{PAGE}?q=%23{wish}").get_data(as_text=True)
    header = re.search(r"<thead>(.*?)</thead>", page, re.S).group(1)
    assert all(f">{word}<" in header for word in ("流程", "当前环节", "申请人", "状态", "提交时间"))
    row = re.search(rf'<tr data-instance="{wish}">(.*?)</tr>', page, re.S).group(1)
    assert "微心愿" in row and "驿站核实" in row


def test_the_unit_filter_holds_a_unit_and_its_subtree_within_scope(login, demo):
    yuzhong = submit_wish(login("rider1"))  # 渝中区
    # 江北区: its applicant and its station (a request is a unit's by either).
    jiangbei = submit_wish(login("driver1"), title="停车位", station=str(unit_by_code("st-gyq").id))
    city = login("city_admin")
    yz, jb = unit_by_code("cq-yz"), unit_by_code("cq-jb")
    page = city.get(PAGE).get_data(as_text=True)
    assert f'<option value="{yz.id}">' in page and f'<option value="{jb.id}">' in page
    found = listed(city.get(f"{PAGE}?unit={yz.id}"))
    assert yuzhong in found and jiangbei not in found
    rows = db.session.scalars(select(Instance.unit_path).where(Instance.id.in_(found))).all()
    assert rows and all(path.startswith(yz.path) for path in rows)
    # A 江北 worker's wish at a 渝中 station is 渝中's too (and still 江北's).
    visiting = submit_wish(login("courier1"), title="顺路的心愿")
    db.session.execute(update(Instance).where(Instance.id == visiting).values(
        unit_path=jb.path))
    db.session.commit()
    city = login("city_admin")
    assert visiting in listed(city.get(f"{PAGE}?unit={yz.id}"))
    assert visiting in listed(city.get(f"{PAGE}?unit={jb.id}"))
    assert jiangbei in downloaded(city.get(f"{PAGE}?unit={jb.id}&format=csv"))
    assert yuzhong not in downloaded(city.get(f"{PAGE}?unit={jb.id}&format=csv"))
    # A district administrator picks within their district only.
    district = login("yuzhong_admin")
    assert f'<option value="{jb.id}">' not in district.get(PAGE).get_data(as_text=True)
    outside = district.get(f"{PAGE}?unit={jb.id}")
    assert outside.status_code == 422 and listed(outside) == []
    street = unit_by_code("cq-yz-jfb")
    assert yuzhong in listed(district.get(f"{PAGE}?unit={street.id}"))
