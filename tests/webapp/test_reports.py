"""五个一 progress per branch, open workers' demands per district, and the slot check."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.webapp.test_api import api  # noqa: F401
from tests.webapp.test_pages import errors, login  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp import demo as demo_data
from webapp.extensions import db
from webapp.models import DutySlot, Task
from webapp.services import demand_report, five_ones
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code
from webapp.services.users import find_user, grant_role
from workflows.runtime import Action

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)  # a Tuesday, 10:00 in Chongqing


@pytest.fixture
def city(demo):
    demo_data.seed_city_stations()
    demo_data.seed_city_life("demo-pass-2026")
    db.session.commit()
    return demo


def branch_names(page: str) -> list[str]:
    return re.findall(r'class="fw-semibold branch-name">([^<]+)<', page)


# ---------------------------------------------------------------- 五个一

def test_five_ones_counts_confirmed_duty_reports_per_branch(city):
    branches = db.session.scalars(five_ones.branches_query(find_user("city_admin"))).all()
    rows = {r.branch.code: r for r in five_ones.progress(branches, five_ones.current_year())}
    assert set(rows) == {"cq-yz-jfb-branch1", "cq-jb-gyq-branch1", "cq-jlp-branch1",
                         "cq-na-branch1", "cq-yb-branch1"}
    full = rows["cq-yz-jfb-branch1"]
    assert (full.done, full.percent, full.hours) == (5, 100, 8.0)
    partial = rows["cq-jb-gyq-branch1"]  # three checks, opinions, no wish, no event
    assert partial.done == 2 and partial.counts["duty"] == 1 and partial.counts["opinions"] == 1
    assert partial.counts["checklist"] == partial.counts["wish"] == partial.counts["event"] == 0
    two_duties = rows["cq-jlp-branch1"]  # one full checklist + wish, the other an event
    assert two_duties.done == 5 and two_duties.counts["duty"] == 2 and two_duties.hours == 15.5
    waiting = rows["cq-na-branch1"]  # reported, not confirmed yet: counts for nothing
    assert (waiting.done, waiting.pending, len(waiting.duties)) == (0, 1, 1)
    assert rows["cq-yb-branch1"].done == 0
    last_year = five_ones.progress(branches, five_ones.current_year() - 1)
    assert all(r.done == 0 and not r.duties for r in last_year)


def test_five_ones_pages_by_scope(login, city):
    everyone = login("supervisor").get("/reports/five-ones").get_data(as_text=True)
    assert len(branch_names(everyone)) == 5 and "1 份报告待确认" in everyone
    district = unit_by_code("cq-jlp").id
    one = login("city_admin").get(f"/reports/five-ones?district={district}")
    assert branch_names(one.get_data(as_text=True)) == ["杨家坪街道第一党支部"]
    assert branch_names(login("yuzhong_admin").get("/reports/five-ones").get_data(
        as_text=True)) == ["解放碑街道机关第一党支部"]
    secretary = login("branch_secretary")
    page = secretary.get("/reports/five-ones").get_data(as_text=True)
    assert branch_names(page) == ["解放碑街道机关第一党支部"] and "5 / 5 项" in page
    own = unit_by_code("cq-yz-jfb-branch1")
    detail = secretary.get(f"/reports/five-ones/{own.id}").get_data(as_text=True)
    assert "党员志愿者 张磊" in detail and "解放碑户外劳动者驿站" in detail and "100%" in detail
    secretary.post("/auth/locale", data={"locale": "en"})
    english = secretary.get(f"/reports/five-ones/{own.id}").get_data(as_text=True)
    duties = english.split("<tbody>", 1)[1]  # the duties' table names its stations in English
    assert "Jiefangbei Outdoor Workers&#39; Rest Station" in duties
    assert "解放碑户外劳动者驿站" not in duties
    secretary.post("/auth/locale", data={"locale": "zh_CN"})
    assert secretary.get(f"/reports/five-ones/{unit_by_code('cq-jlp-branch1').id}"
                         ).status_code == 404
    assert secretary.get(f"/reports/five-ones/{unit_by_code('cq-yz').id}").status_code == 404
    assert secretary.get("/reports/five-ones?year=abc&page=-2").status_code == 200
    assert login("volunteer1").get("/reports/five-ones").status_code == 403
    na = unit_by_code("cq-na-branch1").id
    waiting = login("city_admin").get(f"/reports/five-ones/{na}").get_data(as_text=True)
    assert "待确认" in waiting and "另有 1 份报告等待站长确认" in waiting


# ---------------------------------------------------------------- demands

def demand(username, station_code, category, when):
    instance = wf.start_instance("worker_demand", find_user(username), {
        "category": category, "station": unit_by_code(station_code).id,
        "description": "电动车没有地方停，经常被贴条。", "phone": "13700137000"}, now=when)
    db.session.commit()
    return instance


def act_as(instance, username, kind, when, **data):
    task = db.session.scalar(select(Task).where(Task.instance_id == instance.id,
                                                Task.status == "open"))
    wf.perform(instance.id, Action(kind, task=task.key, data=data), find_user(username),
               now=when)
    db.session.commit()


def jiangbei_street() -> int:
    """观音桥街道工会, whose administrator is then the demo's ``unit_admin`` too: a 江北
    demand is dispatched to a unit of its own district with someone to acknowledge it."""
    street = unit_by_code("cq-jb-gyq")
    grant_role(find_user("unit_admin"), "unit_admin", street)
    db.session.commit()
    return street.id


def test_open_demands_by_district_category_and_age(demo):
    parking = demand("rider1", "st-jfb", "parking", T0)
    demand("courier1", "st-dp", "toilet", T0 + timedelta(days=6))
    answered = demand("driver1", "st-gyq", "charging", T0)
    act_as(answered, "jiangbei_admin", "approve", T0 + timedelta(hours=2),
           responsible_unit=jiangbei_street())
    fresh = demand_report.report(find_user("city_admin"), now=T0 + timedelta(days=1))
    assert fresh.total == 2  # the third is not submitted yet at that time
    counts = {r.key.code: r.counts for r in fresh.districts}
    assert counts["cq-yz"] == {"fresh": 1, "waiting": 0, "old": 0, "overdue": 0}
    assert counts["cq-jb"]["fresh"] == 1 and counts["cq-spb"] == dict.fromkeys(counts["cq-spb"], 0)
    # A week on: the 渝中 demand was never dispatched (2 working days): overdue; the
    # 江北 one waits for its acknowledgement (3 working days): overdue too.
    week = demand_report.report(find_user("city_admin"), now=T0 + timedelta(days=7))
    counts = {r.key.code: r.counts for r in week.districts}
    assert counts["cq-yz"] == {"fresh": 1, "waiting": 0, "old": 0, "overdue": 1}
    assert counts["cq-jb"]["overdue"] == 1 and week.total == 3
    by_category = {r.key: r.total for r in week.categories}
    assert by_category == {"parking": 1, "toilet": 1, "charging": 1}
    # Acknowledged: 15 days to answer, so 5 days old is just waiting, 16 days overdue.
    act_as(answered, "unit_admin", "complete", T0 + timedelta(days=1), handler_name="周")
    later = demand_report.report(find_user("jiangbei_admin"), now=T0 + timedelta(days=5))
    assert [(r.key.code, r.counts["waiting"], r.total) for r in later.districts] == [
        ("cq-jb", 1, 1)]
    late = demand_report.report(find_user("jiangbei_admin"), now=T0 + timedelta(days=17))
    assert late.districts[0].counts["overdue"] == 1
    assert parking.id and demand_report.report(find_user("rider1")).districts == []


def test_demands_page(login, demo):
    demand("rider1", "st-jfb", "parking", datetime.now(timezone.utc) - timedelta(hours=5))
    demand("driver1", "st-gyq", "rights", datetime.now(timezone.utc) - timedelta(days=40))
    page = login("city_admin").get("/reports/demands").get_data(as_text=True)
    assert "未办结诉求共 2 件" in page and "停车难" in page and "权益保障" in page
    assert "渝中区总工会" in page and "沙坪坝区总工会" in page
    mine = login("yuzhong_admin").get("/reports/demands").get_data(as_text=True)
    assert "未办结诉求共 1 件" in mine and "江北区总工会" not in mine and "权益保障" not in mine
    jb = unit_by_code("cq-jb").id
    one = login("supervisor").get(f"/reports/demands?district={jb}").get_data(as_text=True)
    assert "未办结诉求共 1 件" in one and "停车难" not in one
    assert login("unit_admin").get("/reports/demands").status_code == 403
    assert login("supervisor").get("/reports/demands?district=x").status_code == 200


def test_the_demand_report_s_details_link_lists_what_it_counted(login, demo):
    """查看诉求明细 keeps the report's district and dates: the list it opens has the
    demands the report counted — by the station's district, as the report counts them,
    whoever raised them (rider1 belongs to 渝中 and raised one at a 江北 station)."""
    import html
    import re

    now = datetime.now(timezone.utc)
    demand("rider1", "st-gyq", "parking", now - timedelta(hours=5))
    demand("driver1", "st-gyq", "rights", now - timedelta(days=40))
    demand("courier1", "st-jfb", "toilet", now - timedelta(hours=3))
    jb = unit_by_code("cq-jb").id
    since = (now - timedelta(days=10)).date().isoformat()
    client = login("city_admin")
    page = client.get(f"/reports/demands?district={jb}&since={since}").get_data(as_text=True)
    assert "未办结诉求共 1 件" in page
    link = html.unescape(re.search(r'href="([^"]+)">查看诉求明细', page).group(1))
    assert f"unit={jb}" in link and f"since={since}" in link
    listed = client.get(link).get_data(as_text=True)
    assert "共 1 项" in listed, link
    everything = client.get(f"/reports/demands?district={jb}").get_data(as_text=True)
    link = html.unescape(re.search(r'href="([^"]+)">查看诉求明细', everything).group(1))
    assert "未办结诉求共 2 件" in everything and "共 2 项" in client.get(link).get_data(
        as_text=True)


# ---------------------------------------------------------------- the slot check

def test_signing_up_for_another_stations_slot_is_refused_beside_the_field(login, demo):
    jfb_slot = db.session.scalars(select(DutySlot).where(
        DutySlot.station_id == unit_by_code("st-jfb").id)).first()
    client = login("volunteer1")
    response = client.post("/processes/station_master/start", data={
        "station": str(unit_by_code("st-gyq").id), "slot": str(jfb_slot.id),
        "phone": "13700137000"})
    assert response.status_code == 422
    assert "所选时段不属于所选驿站，请重新选择" in errors(response)
    ok = client.post("/processes/station_master/start", data={
        "station": str(unit_by_code("st-jfb").id), "slot": str(jfb_slot.id),
        "phone": "13700137000"})
    assert ok.status_code == 302


def test_home_links_the_new_pages_by_role(login, demo):
    city = login("city_admin").get("/").get_data(as_text=True)
    assert "/reports/five-ones" in city and "/reports/demands" in city \
        and "/admin/stations/import" in city
    secretary = login("branch_secretary").get("/").get_data(as_text=True)
    assert "/reports/five-ones" in secretary and "/reports/demands" not in secretary
    rider = login("rider1").get("/").get_data(as_text=True)
    assert "/reports/" not in rider and "/admin/stations/import" not in rider


def test_any_upcoming_slot_of_a_city_can_be_signed_up_for(login, demo, api):
    """A form shows the soonest 500 slots (of the city, when all districts are asked for)
    until a station is chosen; a slot
    beyond those (a city has 20,000) is still accepted when sent, on the page and through
    the API, and a chosen station lists its own slots."""
    from webapp.services.activities import SOONEST_SLOTS, create_slot

    soon = datetime.now(timezone.utc) + timedelta(days=1)
    other = unit_by_code("st-gyq").id
    db.session.add_all(DutySlot(station_id=other, starts_at=soon + timedelta(hours=i),
                                ends_at=soon + timedelta(hours=i, minutes=30), capacity=1)
                       for i in range(SOONEST_SLOTS + 1))
    jfb = unit_by_code("st-jfb").id
    far = [create_slot(unit_by_code("st-jfb"), soon + timedelta(days=60 + d),
                       soon + timedelta(days=60 + d, hours=8), 2) for d in (0, 1)]
    db.session.commit()
    client = login("volunteer1")
    # All districts asked for, no station yet: the city's soonest 500 are listed.
    listed = client.get("/processes/station_master/start?station-district=").get_data(
        as_text=True)
    assert f'value="{far[0].id}"' not in listed  # beyond the soonest 500
    link = f"/processes/station_master/start?station={jfb}"
    assert link in client.get(f"/stations/{jfb}/slots").get_data(as_text=True)
    chosen = client.get(link).get_data(as_text=True)
    assert f'value="{far[0].id}"' in chosen and f'value="{far[1].id}"' in chosen
    assert re.search(rf'<option[^>]*selected[^>]*value="{jfb}"|<option[^>]*value="{jfb}"[^>]*'
                     r'selected', chosen)  # the station comes chosen
    ok = client.post("/processes/station_master/start", data={
        "station": str(jfb), "slot": str(far[0].id), "phone": "13700137000"})
    assert ok.status_code == 302, (errors(ok), re.findall(r"alert[^>]*>([^<]*)", ok.get_data(as_text=True)))
    r = api("POST", "/processes/station_master/instances", "volunteer1", json={"data": {
        "station": jfb, "slot": far[1].id, "phone": "13700137000"}})
    assert r.status_code == 201, r.get_json()
