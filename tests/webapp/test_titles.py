"""What a request is called in the lists (我的申请, the inbox, 事项查询) and how its
values read on its page and in the API: labels and names, never codes and ids."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from tests.webapp.test_api import api  # noqa: F401
from tests.webapp.test_pages import login, submit_wish, task_id_of, wish_form  # noqa: F401
from tests.webapp.test_union_processes import id_card
from tests.webapp.test_workflow_service import NOW, demo, open_task, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.models import Course, Instance, RetreatBatch
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code
from workflows.runtime import Action

DEMAND_TITLE = "停车难 · 解放碑户外劳动者驿站"


def demand(**changes) -> dict:
    return {"category": "parking", "station": unit_by_code("st-jfb").id,
            "location": "解放碑步行街东口", "phone": "13800138000",
            "description": "送餐高峰期电动车没有地方停，经常被贴条，希望增加临时停车位。", **changes}


def shown(page: str, label: str) -> str:
    """The value beside ``label`` in an instance's data rows."""
    found = re.search(rf"<dt[^>]*>{label}</dt>\s*<dd[^>]*>([^<]*)</dd>", page)
    assert found, label
    return found.group(1)


def test_a_demand_is_called_by_its_category_and_station_everywhere(login, demo):
    client = login("rider1")
    response = client.post("/processes/worker_demand/start",
                           data={**demand(), "station": str(demand()["station"])})
    assert response.status_code == 302
    instance_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert db.session.get(Instance, instance_id).title == DEMAND_TITLE
    assert DEMAND_TITLE in client.get("/requests").get_data(as_text=True)
    assert DEMAND_TITLE in login("yuzhong_admin").get("/inbox").get_data(as_text=True)
    assert DEMAND_TITLE in login("city_admin").get("/admin/instances").get_data(as_text=True)


def test_a_demand_title_follows_a_resubmitted_return(demo):
    rider, admin = demo["rider1"], demo["yuzhong_admin"]
    instance = wf.start_instance("worker_demand", rider, demand(), now=NOW)
    db.session.commit()
    wf.perform(instance.id, Action("return", task=open_task(instance).key, to="applicant",
                                   comment="请确认诉求类别"), admin, now=NOW)
    wf.perform(instance.id, Action("resubmit", task=open_task(instance).key,
                                   data=demand(category="charging")), rider, now=NOW)
    db.session.commit()
    assert instance.title == "充电难 · 解放碑户外劳动者驿站"


def test_a_resubmitted_wish_with_a_new_title_is_listed_by_it(login, demo):
    instance_id = submit_wish(login("rider1"))
    login("station_head").post(f"/tasks/{task_id_of(instance_id)}",
                               data={"action": "return", "comment": "请写清楚头盔尺码"})
    client = login("rider1")
    response = client.post(f"/tasks/{task_id_of(instance_id)}", data={
        **wish_form(title="尺码 L 的头盔"), "action": "resubmit"})
    assert response.status_code == 302
    mine = client.get("/requests").get_data(as_text=True)
    heading = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    inbox = login("station_head").get("/inbox").get_data(as_text=True)
    for page in (mine, heading, inbox):
        assert "尺码 L 的头盔" in page and "一个新头盔" not in page


def test_an_approval_keeps_the_title_it_does_not_change(demo):
    rider, head = demo["rider1"], demo["station_head"]
    instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()
    wf.perform(instance.id, Action("approve", task=open_task(instance).key), head, now=NOW)
    db.session.commit()
    assert instance.title == "一个新头盔"


def test_a_course_is_shown_by_its_name_on_the_page_and_in_the_api(api, login, demo):
    course = db.session.scalar(select(Course).where(Course.title == "电工技能提升班"))
    r = api("POST", "/processes/training_registration/instances", "rider1", json={"data": {
        "course": course.id, "real_name": "马超", "occupation": "delivery",
        "occupation_confirmed": True, "phone": "13800138000",
        "id_card": id_card(), "motivation": "想考电工证，多一门手艺"}})
    assert r.status_code == 201, r.get_json()
    answer = r.get_json()
    assert answer["title"] == "电工技能提升班"
    assert answer["data"]["course"] == course.id  # what a client sends back
    assert answer["data_text"]["course"] == "电工技能提升班"
    assert answer["data_text"]["occupation"] == "外卖配送员"
    english = api("GET", f"/instances/{answer['id']}", "rider1",
                  headers={"Accept-Language": "en"}).get_json()
    assert english["data_text"]["occupation"] == "Food delivery rider"
    page = login("rider1").get(f"/instances/{answer['id']}").get_data(as_text=True)
    assert shown(page, "培训课程") == "电工技能提升班"


def test_a_retreat_batch_is_shown_by_its_name(api, login, demo):
    batch = db.session.scalar(select(RetreatBatch))
    r = api("POST", "/processes/retreat_nomination/instances", "rider1", json={"data": {
        "batch": batch.id, "honour": "frontline", "frontline": True, "new_employment": True,
        "id_card": id_card(), "phone": "13800138000", "health_ok": True,
        "deeds": "从事外卖配送五年，累计安全配送三万余单，多次见义勇为，获评区级优秀骑手。"}})
    assert r.status_code == 201, r.get_json()
    answer = r.get_json()
    assert answer["data_text"]["batch"] == batch.name
    assert answer["title"] == f"{batch.name} · 一线优秀职工"
    page = login("rider1").get(f"/instances/{answer['id']}").get_data(as_text=True)
    assert shown(page, "疗休养批次") == batch.name


def test_requests_saved_before_titles_were_declared_are_retitled_by_the_command(
        demo, runner):
    """An upgrade: requests saved with the old titles ("parking") get the new ones from
    ``flask workflows retitle``; a dry run counts them and saves nothing."""
    rider = demo["rider1"]
    instance = wf.start_instance("worker_demand", rider, demand(), now=NOW)
    wish = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()
    instance.title = "parking"  # as the code before declared titles stored it
    db.session.commit()
    demand_id, wish_id, wish_title = instance.id, wish.id, wish.title
    total = db.session.scalar(select(func.count()).select_from(Instance))
    dry = runner.invoke(args=["workflows", "retitle", "--dry-run"])
    assert dry.exit_code == 0
    assert f"Request titles that would change: 1 of {total}" in dry.output
    db.session.expire_all()
    assert db.session.get(Instance, demand_id).title == "parking"
    result = runner.invoke(args=["workflows", "retitle"])
    assert result.exit_code == 0 and f"Request titles changed: 1 of {total}" in result.output
    db.session.expire_all()
    assert db.session.get(Instance, demand_id).title == DEMAND_TITLE
    assert db.session.get(Instance, wish_id).title == wish_title
