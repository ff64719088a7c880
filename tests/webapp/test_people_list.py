"""人员与角色, the list: unit and status columns, filters by unit, role and status kept in
the pages and the download, the download's unit, phone and e-mail (masked where the
person's own page would not open), and the unit suggestions behind the unit fields."""
from __future__ import annotations

import csv
import io

import lxml.html
import openpyxl
import pytest

from tests.webapp.test_people_admin import fresh, page, sign_in, staff  # noqa: F401
from webapp.extensions import db
from webapp.services.org import unit_by_code


@pytest.fixture
def people(staff, org, make_user):
    """``staff`` with names on the units, a station head, a deactivated worker, someone
    listed to the street administrator but not theirs to manage, and phones and e-mails."""
    for key, name in (("yz", "渝中区总工会"), ("street", "解放碑街道工会"), ("company", "渝中某公司工会"),
                      ("station", "解放碑驿站"), ("jb_street", "观音桥街道工会")):
        org[key].name = name
    head = make_user("head1", ("station_head", org["station"]), unit=org["station"])
    gone = make_user("gone1", ("worker", org["company"]), unit=org["company"], name="离职骑手")
    gone.active = False
    mixed = make_user("mixed", ("worker", org["street"]), ("district_admin", org["yz"]),
                      unit=org["street"])
    watcher = make_user("watcher", ("supervisor", org["city"]), unit=org["city"])
    worker = staff["worker"]
    worker.phone, worker.email = "13800001111", "rider@example.cn"
    mixed.phone, mixed.email = "13900002222", "mixed@example.cn"
    db.session.commit()
    return {**staff, "head": head, "gone": gone, "mixed": mixed, "watcher": watcher}


def listed(response) -> list[str]:
    """The usernames in the list, in order."""
    doc = lxml.html.fromstring(page(response))
    return [tr.get("data-user") for tr in doc.xpath('//table[@id="people"]/tbody/tr[@data-user]')]


def cells(response, username: str) -> dict[str, str]:
    doc = lxml.html.fromstring(page(response))
    [row] = doc.xpath(f'//tr[@data-user="{username}"]')
    return {td.get("data-col"): " ".join(td.text_content().split())
            for td in row.xpath("./td[@data-col]")}


def csv_rows(response) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


# ------------------------------------------------------------------------------ the page

def test_each_person_shows_their_unit_with_its_code_and_their_status(client, people):
    sign_in(client, "yz_admin")
    r = client.get("/admin/users")
    assert r.status_code == 200
    assert cells(r, "worker1") == {"unit": "渝中某公司工会 cq-yz-co", "status": "在用"}
    assert cells(r, "gone1") == {"unit": "渝中某公司工会 cq-yz-co", "status": "已停用"}
    assert cells(r, "head1")["unit"] == "解放碑驿站 cq-yz-st"
    client.post("/auth/locale", data={"locale": "en"})
    r = client.get("/admin/users")
    assert cells(r, "gone1")["status"] == "Deactivated"
    assert cells(r, "worker1")["status"] == "Active"


@pytest.mark.parametrize("query, expected", [
    ("unit=cq-yz-co", ["gone1", "worker1"]),
    # A unit and everything below it.
    ("unit=cq-yz-jfb", ["gone1", "head1", "mixed", "street_admin", "worker1"]),
    ("role=unit_admin", ["street_admin"]),
    ("role=station_head", ["head1"]),
    ("status=inactive", ["gone1"]),
    ("status=active&unit=cq-yz-co", ["worker1"]),
    # A role and a unit meet in one role: the district administrator's role is above 解放碑.
    ("unit=cq-yz-jfb&role=district_admin", []),
    ("unit=cq-yz&role=district_admin", ["mixed", "yz_admin"]),
    ("q=离职&unit=cq-yz-co", ["gone1"]),
])
def test_filters_by_unit_role_and_status(client, people, query, expected):
    sign_in(client, "yz_admin")
    r = client.get(f"/admin/users?{query}")
    assert r.status_code == 200 and listed(r) == expected
    if not expected:
        assert "没有符合条件的人员" in page(r)


def test_the_unit_filter_stays_in_the_viewers_part_of_the_tree(client, people):
    sign_in(client, "yz_admin")
    everyone = listed(client.get("/admin/users"))
    assert "jb_worker" not in everyone and "worker1" in everyone
    # 江北区 exists, but not for a 渝中区 administrator: the same answer as a code nobody has.
    for code in ("cq-jb-gyq", "cq-jb", "nonsense"):
        r = client.get(f"/admin/users?unit={code}")
        assert r.status_code == 422 and listed(r) == [], code
        assert "没有这个单位编码，或该单位不在您的管理范围内" in page(r)
        assert 'id="unit-error"' in page(r) and "is-invalid" in page(r)
    # A supervisor of the city looks at both districts.
    sign_in(client, "watcher")
    assert listed(client.get("/admin/users?unit=cq-jb-gyq")) == ["jb_worker"]


@pytest.mark.parametrize("query, message", [
    ("status=x", "没有这个账号状态"),
    ("role=boss", "没有这个角色"),
    ("unit=%25", "没有这个单位编码"),
    ("unit=" + "长" * 500, "没有这个单位编码"),
    ("role=x&status=y&format=csv", "没有这个角色"),
])
def test_a_filter_that_cannot_be_used_is_said_so_never_a_500(client, people, query, message):
    sign_in(client, "yz_admin")
    r = client.get(f"/admin/users?{query}")
    assert r.status_code == 422 and message in page(r)
    assert listed(r) == [] and 'id="filter-errors"' in page(r)
    assert "Content-Disposition" not in r.headers  # no download of a guess
    assert "format=csv" not in page(r).split('id="people"')[0].split('id="people-filters"')[1]


def test_a_bad_filter_is_explained_in_english_too(client, people):
    sign_in(client, "yz_admin")
    client.post("/auth/locale", data={"locale": "en"})
    r = client.get("/admin/users?unit=nonsense&status=x")
    assert r.status_code == 422
    assert "No unit has this code, or it is outside your part of the tree" in page(r)
    assert "There is no such account status" in page(r)


def test_the_pages_keep_the_filters(client, people, monkeypatch):
    monkeypatch.setattr("webapp.admin.views.PER_PAGE", 2)
    sign_in(client, "yz_admin")
    r = client.get("/admin/users?unit=cq-yz-jfb&status=active")
    assert listed(r) == ["head1", "mixed"] and "1 / 2" in page(r)
    doc = lxml.html.fromstring(page(r))
    [following] = doc.xpath('//a[@class="page-link"][contains(@href, "page=2")]/@href')
    assert "unit=cq-yz-jfb" in following and "status=active" in following
    assert listed(client.get(following)) == ["street_admin", "worker1"]
    # The download carries the same filters (and the search), not the page.
    downloads = doc.xpath('//a[contains(@href, "format=csv")]/@href')
    assert downloads and all("unit=cq-yz-jfb" in h and "status=active" in h and "page=" not in h
                             for h in downloads)


# ------------------------------------------------------------------------------ the download

def test_the_download_follows_the_filters_with_unit_phone_and_e_mail(client, people):
    sign_in(client, "yz_admin")
    r = client.get("/admin/users?format=csv&unit=cq-yz-jfb&status=active")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    rows = csv_rows(r)
    assert rows[0] == ["用户名", "姓名", "单位", "单位编码", "角色", "电话", "邮箱", "启用"]
    by_name = {row[0]: row for row in rows[1:]}
    assert sorted(by_name) == ["head1", "mixed", "street_admin", "worker1"]
    assert by_name["worker1"] == ["worker1", "worker1", "渝中某公司工会", "cq-yz-co",
                                  "职工 · 渝中某公司工会", "13800001111", "rider@example.cn", "✓"]
    # The district administrator opens mixed's page (a district administrator of the
    # same district): phone and e-mail in full.
    assert by_name["mixed"][5:7] == ["13900002222", "mixed@example.cn"]
    book = openpyxl.load_workbook(io.BytesIO(
        client.get("/admin/users?format=xlsx&role=worker&status=inactive").get_data()))
    values = [[c.value for c in row] for row in book.worksheets[0].iter_rows()]
    assert values[0][2:7] == ["单位", "单位编码", "角色", "电话", "邮箱"]
    assert [v[0] for v in values[1:]] == ["gone1"]


def test_phone_and_e_mail_are_masked_where_the_persons_page_would_not_open(client, people):
    # mixed also holds a role above the street: listed to its administrator, not theirs.
    sign_in(client, "street_admin")
    assert client.get(f"/admin/users/{people['mixed'].id}").status_code == 404
    rows = {row[0]: row for row in csv_rows(client.get("/admin/users?format=csv"))[1:]}
    assert rows["mixed"][5:7] == ["139****2222", "m***@example.cn"]
    assert rows["worker1"][5:7] == ["13800001111", "rider@example.cn"]
    # A supervisor reads the list and manages nobody: every phone and e-mail masked.
    sign_in(client, "watcher")
    rows = {row[0]: row for row in csv_rows(client.get("/admin/users?format=csv"))[1:]}
    assert rows["worker1"][5:7] == ["138****1111", "r***@example.cn"]
    assert rows["jb_worker"][2:4] == ["观音桥街道工会", "cq-jb-gyq"]
    assert not any("13800001111" in "".join(row) for row in rows.values())


# ------------------------------------------------------------------------------ unit suggestions

def suggested(client, q, scope=None) -> list[str]:
    r = client.get("/admin/units/search.json", query_string={"q": q, **(
        {"scope": scope} if scope else {})})
    assert r.status_code == 200 and r.mimetype == "application/json"
    return [u["code"] for u in r.get_json()["units"]]


def test_units_are_suggested_by_name_or_code_within_the_viewers_part(client, people, org,
                                                                       make_unit):
    sign_in(client, "yz_admin")
    assert suggested(client, "解放碑") == ["cq-yz-jfb", "cq-yz-st"]
    assert suggested(client, "jfb") == ["cq-yz-jfb"]
    # The code typed in full comes first, whatever else holds it.
    assert suggested(client, "cq-yz-co")[0] == "cq-yz-co"
    answer = client.get("/admin/units/search.json?q=cq-yz-st").get_json()["units"][0]
    assert answer == {"code": "cq-yz-st", "name": "解放碑驿站", "label": "解放碑驿站（解放碑街道工会）",
                      "active": True}
    # 江北区 is never answered to a 渝中区 administrator, by name or by code.
    assert suggested(client, "观音桥") == [] and suggested(client, "cq-jb") == []
    assert suggested(client, "%") == [] and suggested(client, "") == []
    # At most 20, for a city of thousands of units.
    for n in range(25):
        make_unit(f"cq-yz-x{n:02d}", "station", org["street"], name=f"测试驿站{n:02d}")
    assert len(suggested(client, "测试驿站")) == 20
    # Where people and roles are placed, a deactivated unit is not offered; in the
    # list's filter it is (people may still be there).
    unit_by_code("cq-yz-x00").active = False
    db.session.commit()
    assert "cq-yz-x00" not in suggested(client, "测试驿站00", scope="manage")
    assert suggested(client, "测试驿站00") == ["cq-yz-x00"]


def test_suggestions_follow_the_askers_roles(client, people):
    # A supervisor looks at the whole city, and places nobody anywhere.
    sign_in(client, "watcher")
    assert suggested(client, "观音桥") == ["cq-jb-gyq"]
    assert suggested(client, "观音桥", scope="manage") == []
    sign_in(client, "worker1")
    assert client.get("/admin/units/search.json?q=cq").status_code == 403


def test_the_unit_fields_carry_the_picker_and_a_typed_code_still_works(client, people):
    sign_in(client, "yz_admin")
    for url, field_id in (("/admin/users/new", "unit"),
                          (f"/admin/users/{people['worker'].id}", "grant_unit"),
                          ("/admin/users", "unit")):
        doc = lxml.html.fromstring(page(client.get(url)))
        [field] = doc.xpath(f'//input[@id="{field_id}"]')
        assert field.get("data-unit-picker") in ("manage", "view") and field.get(
            "autocomplete") == "off", url
        [script] = doc.xpath('//script[contains(@src, "unit-picker.js")]')
        assert script.get("data-endpoint") == "/admin/units/search.json"
    # Without JavaScript the field is a code typed in: it works as before.
    r = client.post(f"/admin/users/{people['worker'].id}/roles",
                    data={"role": "volunteer", "unit": "cq-yz-br"})
    assert r.status_code == 302 and "volunteer" in fresh(people["worker"].id).roles
    r = client.post(f"/admin/users/{people['worker'].id}/roles",
                    data={"role": "volunteer", "unit": "解放碑街道工会"})
    assert r.status_code == 422 and "没有这个单位编码" in page(r)
