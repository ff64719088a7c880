"""A district dispatches a worker's demand (受理并交办) to a responsible unit of its own
area, with someone there to acknowledge it — on the page, in the API and in the list of
tasks nobody holds."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, func, select

from tests.webapp.test_api import api, error_of  # noqa: F401
from tests.webapp.test_pages import errors, login, task_id_of  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import HistoryEntry, Instance, Membership, Task
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code
from webapp.services.users import find_user, grant_role
from workflows.runtime import Action

DEMAND = {"category": "parking", "location": "解放碑步行街东口", "phone": "13800138000",
          "description": "送餐高峰期电动车没有地方停，经常被贴条，希望增加临时停车位。"}


@pytest.fixture
def dispatch(demo):
    """The 渝中区 dispatch task of a demand at 解放碑; a 江北 street union that has an
    administrator (so only its district keeps it off the list)."""
    grant_role(find_user("unit_admin"), "unit_admin", unit_by_code("cq-jb-gyq"))
    instance = wf.start_instance("worker_demand", find_user("rider1"),
                                 {**DEMAND, "station": unit_by_code("st-jfb").id})
    db.session.commit()
    return task_id_of(instance.id)


def options(html: str, name: str) -> set[int]:
    select_html = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select_html, html[:3000]
    return {int(v) for v in re.findall(r'<option[^>]*value="(\d+)"', select_html.group(1))}


def ids(*codes: str) -> set[int]:
    return {unit_by_code(code).id for code in codes}


def untouched(task_id: int) -> None:
    db.session.expire_all()
    task = db.session.get(Task, task_id)
    assert task.status == "open" and task.step == "dispatch"
    assert "responsible_unit" not in task.instance.state["data"]
    assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
        HistoryEntry.instance_id == task.instance_id, HistoryEntry.action == "approve")) == 0


def test_the_select_lists_the_unions_of_the_demands_district_with_an_administrator(
        login, dispatch):
    html = login("yuzhong_admin").get(f"/tasks/{dispatch}").get_data(as_text=True)
    # Not 中华全国总工会, a station, 江北 or 大坪街道工会 (nobody there to acknowledge it).
    assert options(html, "responsible_unit") == ids("cq-yz-jfb", "cq-yz-logistics")
    assert "中华全国总工会" not in html and "观音桥街道工会" not in html


def test_the_api_lists_the_same_units(api, dispatch):
    tasks = api("GET", "/tasks?scope=mine", "yuzhong_admin").get_json()["items"]
    form = next(t["form"] for t in tasks if t["id"] == dispatch)
    field = next(f for f in form["fields"] if f["name"] == "responsible_unit")
    assert {int(c["value"]) for c in field["choices"]} == ids("cq-yz-jfb", "cq-yz-logistics")


@pytest.mark.parametrize("code, message", [
    ("cq-jb-gyq", "请选择渝中区总工会范围内的单位"),
    ("st-jfb", "请选择街道工会、企业工会"),
    ("acftu", "请选择街道工会、企业工会"),
    ("cq-yz-dp", "该单位暂无基层工会管理员，请选择其他单位"),
])
def test_the_page_refuses_another_unit_beside_the_field(login, dispatch, code, message):
    response = login("yuzhong_admin").post(f"/tasks/{dispatch}", data={
        "action": "approve", "responsible_unit": str(unit_by_code(code).id)})
    assert response.status_code == 422
    assert message in errors(response), errors(response)
    untouched(dispatch)


def test_the_api_refuses_an_out_of_area_unit_with_a_field_error(api, dispatch):
    response = api("POST", f"/tasks/{dispatch}/complete", "yuzhong_admin", json={
        "action": "approve", "data": {"responsible_unit": unit_by_code("cq-jb-gyq").id}})
    assert response.status_code == 422
    assert error_of(response)["fields"] == {"responsible_unit": ["请选择渝中区总工会范围内的单位"]}
    english = api("POST", f"/tasks/{dispatch}/complete", "yuzhong_admin", json={
        "action": "approve", "data": {"responsible_unit": unit_by_code("cq-yz-dp").id}},
        headers={"Accept-Language": "en"})
    assert error_of(english)["fields"] == {
        "responsible_unit": ["This unit has no unit administrator; choose another unit"]}
    elsewhere = api("POST", f"/tasks/{dispatch}/complete", "yuzhong_admin", json={
        "action": "approve", "data": {"responsible_unit": unit_by_code("cq-jb-gyq").id}},
        headers={"Accept-Language": "en"})
    district_en = unit_by_code("cq-yz").name_en
    assert district_en and error_of(elsewhere)["fields"] == {
        "responsible_unit": [f"Choose a unit within {district_en}"]}
    untouched(dispatch)


def test_a_unit_in_the_area_is_accepted(login, dispatch):
    done = login("yuzhong_admin").post(f"/tasks/{dispatch}", data={
        "action": "approve", "responsible_unit": str(unit_by_code("cq-yz-logistics").id)})
    assert done.status_code == 302, errors(done)
    db.session.expire_all()
    assert db.session.get(Task, task_id_of(db.session.get(Task, dispatch).instance_id)).step \
        == "acknowledge"


def test_the_unassigned_list_says_in_words_who_should_answer(login, dispatch):
    instance_id = db.session.get(Task, dispatch).instance_id
    wf.perform(instance_id, Action("approve", task=db.session.get(Task, dispatch).key,
                                   data={"responsible_unit": unit_by_code("cq-yz-jfb").id}),
               find_user("yuzhong_admin"))
    db.session.commit()
    # The street union's administrator leaves after acknowledging: nobody is left to answer.
    db.session.execute(delete(Membership).where(Membership.role == "unit_admin",
                                                Membership.unit_id == unit_by_code("cq-yz-jfb").id))
    db.session.commit()
    acknowledge = db.session.get(Task, task_id_of(instance_id))
    wf.perform(instance_id, Action("complete", task=acknowledge.key,
                                   data={"handler_name": "赵丽"}), find_user("unit_admin"))
    db.session.commit()
    assert db.session.get(Instance, instance_id).state["current"] == ["answer"]
    html = login("yuzhong_admin").get("/admin/unassigned").get_data(as_text=True)
    assert "应由：责任单位（解放碑街道工会）的基层工会管理员" in html
    assert "responsible_unit" not in html


@pytest.mark.parametrize("district_admin, station, unit", [
    ("yuzhong_admin", "st-jfb", "cq-yz-jfb"),
    ("jiangbei_admin", "st-gyq", "cq-jb-gyq"),
    ("shapingba_admin", "st-xlk", "cq-spb-xq")])
def test_the_demo_can_dispatch_a_demand_in_each_of_its_three_districts(
        app, runner, client, district_admin, station, unit):
    """``seed-demo`` gives each district with a demo administrator a street union with
    someone to acknowledge what it is sent: the walk-through's demand is never stuck."""
    from tests.conftest import PASSWORD

    app.config["DEMO_PASSWORD"] = PASSWORD
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    instance = wf.start_instance("worker_demand", find_user("driver1"),
                                 {**DEMAND, "station": unit_by_code(station).id})
    db.session.commit()
    client.post("/auth/login", data={"username": district_admin, "password": PASSWORD})
    html = client.get(f"/tasks/{task_id_of(instance.id)}").get_data(as_text=True)
    assert unit_by_code(unit).id in options(html, "responsible_unit")


def test_a_list_open_to_a_whole_city_asks_for_the_role_holders_without_listing_units(
        login, dispatch, monkeypatch):
    """Past a couple of thousand candidate units (an old definition's field with no
    kinds or area), the holders are read without an IN list of every unit — and the
    same units are offered."""
    from webapp.services import choices

    monkeypatch.setattr(choices, "_PLACES_LISTED", 0)
    html = login("yuzhong_admin").get(f"/tasks/{dispatch}").get_data(as_text=True)
    assert options(html, "responsible_unit") == ids("cq-yz-jfb", "cq-yz-logistics")


def test_an_area_with_no_unit_to_send_to_says_so_beside_the_empty_list(login, demo):
    """沙坪坝区 without a street union administrator (the demo's city people not seeded):
    the district administrator reads why there is nothing to pick."""
    instance = wf.start_instance("worker_demand", find_user("rider1"),
                                 {**DEMAND, "station": unit_by_code("st-xlk").id})
    db.session.commit()
    html = login("shapingba_admin").get(f"/tasks/{task_id_of(instance.id)}").get_data(
        as_text=True)
    assert options(html, "responsible_unit") == set()
    assert "暂无可选的单位" in html
    elsewhere = login("yuzhong_admin")
    dispatch_jfb = wf.start_instance("worker_demand", find_user("rider1"),
                                     {**DEMAND, "station": unit_by_code("st-jfb").id})
    db.session.commit()
    assert "暂无可选的单位" not in elsewhere.get(
        f"/tasks/{task_id_of(dispatch_jfb.id)}").get_data(as_text=True)
