"""An approval whose form goes with rejecting too (``form_on: [approve, reject]``): the
page shows its fields for both buttons, marks one required to approve only as such, and
both the page and the API take, check and keep the form with a rejection."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.webapp.test_api import api, error_of  # noqa: F401
from tests.webapp.test_pages import errors, login, submit_wish, task_id_of  # noqa: F401
from tests.webapp.test_workflow_service import DEFINITIONS, demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Instance, Task
from webapp.services import workflow as wf

# The wish's verification asks for a budget to approve and for what was found either way.
VERIFY_FORM = """    return_to: [applicant]
    form_on: [approve, reject]
    form:
      - {name: granted_budget, type: integer, label: 核定预算, label_en: Budget granted, min: 1, required: [approve]}
      - {name: verify_note, type: textarea, label: 核实情况, label_en: What was found, required: true, max_length: 200}
"""


@pytest.fixture
def verified_with_a_form(demo):
    text = (DEFINITIONS / "micro_wish.yaml").read_text(encoding="utf-8")
    changed = text.replace("    return_to: [applicant]\n", VERIFY_FORM, 1)
    assert changed != text and wf.publish_text(changed, "micro_wish.yaml").created
    db.session.commit()
    return demo


def status_of(instance_id: int) -> tuple[str, dict]:
    db.session.expire_all()
    instance = db.session.get(Instance, instance_id)
    return instance.status, instance.state.get("data", {})


def test_the_page_marks_a_field_required_to_approve_only_and_rejects_without_it(
        login, verified_with_a_form):
    instance_id = submit_wish(login("rider1"))
    client = login("station_head")
    task_id = task_id_of(instance_id)
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    budget = re.search(r'<input[^>]*name="granted_budget"[^>]*>', page).group(0)
    note = re.search(r'<textarea[^>]*name="verify_note"[^>]*>', page).group(0)
    # Not required in the browser's terms (reject takes it empty), but said to approve.
    assert " required" not in budget and " required" in note
    assert "（通过时必填）" in page and 'data-required-on="approve"' in page
    # Neither a reason nor the finding: both are said at once, beside each.
    bare = client.post(f"/tasks/{task_id}", data={"action": "reject"})
    assert bare.status_code == 422
    assert "此项为必填项。" in errors(bare) and any("请填写理由" in e for e in errors(bare))
    rejected = client.post(f"/tasks/{task_id}", data={
        "action": "reject", "comment": "不符合条件", "verify_note": "已在别处领过头盔"})
    assert rejected.status_code == 302
    status, data = status_of(instance_id)
    assert status == "rejected" and data["verify_note"] == "已在别处领过头盔"
    assert data.get("granted_budget") is None
    shown = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "核实情况" in shown and "已在别处领过头盔" in shown


def test_approving_needs_the_field_required_to_approve(login, verified_with_a_form):
    instance_id = submit_wish(login("rider1"))
    client = login("station_head")
    task_id = task_id_of(instance_id)
    inbox = client.get("/inbox").get_data(as_text=True)
    assert f'id="bulk-{task_id}"' not in inbox  # a budget to give: opened, not ticked
    missing = client.post(f"/tasks/{task_id}", data={"action": "approve",
                                                     "verify_note": "属实"})
    assert missing.status_code == 422 and errors(missing) == ["此项为必填项。"]
    page = missing.get_data(as_text=True)
    assert 'id="granted_budget-error"' in page and "属实" in page
    approved = client.post(f"/tasks/{task_id}", data={
        "action": "approve", "verify_note": "属实", "granted_budget": "80"})
    assert approved.status_code == 302
    status, data = status_of(instance_id)
    assert (data["granted_budget"], data["verify_note"]) == (80, "属实")


def test_the_english_page_says_which_decision_needs_the_field(login, verified_with_a_form):
    instance_id = submit_wish(login("rider1"))
    client = login("station_head")
    client.post("/auth/locale", data={"locale": "en"})
    page = client.get(f"/tasks/{task_id_of(instance_id)}").get_data(as_text=True)
    assert "(required to approve)" in page


def test_the_api_describes_which_actions_send_the_form_and_need_each_field(
        api, verified_with_a_form):
    wish = api("POST", "/processes/micro_wish/instances", "rider1", json={"data": {
        "title": "一个新头盔", "category": "goods", "story": "电动车头盔摔坏了，想要一个新的",
        "budget": "80", "station": _station(), "contact_name": "马超",
        "phone": "13800138000"}}).get_json()
    listed = api("GET", "/tasks?scope=mine", "station_head").get_json()["items"]
    task = next(t for t in listed if t["instance_id"] == wish["id"])
    assert task["form"]["form_on"] == ["approve", "reject"]
    fields = {f["name"]: (f["required"], f["required_on"]) for f in task["form"]["fields"]}
    assert fields == {"granted_budget": (False, ["approve"]),
                      "verify_note": (True, ["approve", "reject"])}
    steps = api("GET", "/processes/micro_wish", "rider1").get_json()["steps"]
    verify = next(s for s in steps if s["id"] == "verify")
    assert verify["form"]["form_on"] == ["approve", "reject"]
    assert next(s for s in steps if s["id"] == "fulfil")["form"]["form_on"] == ["complete"]

    path = f"/tasks/{task['id']}/complete"
    both = api("POST", path, "station_head", json={"action": "reject"})
    assert both.status_code == 422
    assert set(error_of(both)["fields"]) == {"comment", "verify_note"}
    no_note = api("POST", path, "station_head", json={"action": "reject", "comment": "不符合"})
    assert error_of(no_note)["fields"] == {"verify_note": ["此项为必填项。"]}
    done = api("POST", path, "station_head", json={
        "action": "reject", "comment": "不符合条件", "data": {"verify_note": "已在别处领过"}})
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["status"] == "rejected" and body["data"]["verify_note"] == "已在别处领过"
    line = next(h for h in body["history"] if h["action"] == "reject")
    assert (line["step"], line["comment"]) == ("verify", "不符合条件")


def test_the_api_needs_the_approve_only_field_to_approve(api, verified_with_a_form, login):
    instance_id = submit_wish(login("rider1"))
    path = f"/tasks/{task_id_of(instance_id)}/complete"
    missing = api("POST", path, "station_head", json={
        "action": "approve", "data": {"verify_note": "属实"}})
    assert missing.status_code == 422 and set(error_of(missing)["fields"]) == {"granted_budget"}
    done = api("POST", path, "station_head", json={
        "action": "approve", "data": {"verify_note": "属实", "granted_budget": 60}})
    assert done.status_code == 200 and done.get_json()["data"]["granted_budget"] == 60


def test_a_step_whose_reject_sends_no_form_still_refuses_data_with_it(api, demo, login):
    """The shipped wish verification asks nothing: a reject with data is refused, not
    silently dropped, and its form says only approving would send one."""
    instance_id = submit_wish(login("rider1"))
    task_id = task_id_of(instance_id)
    listed = api("GET", "/tasks?scope=mine", "station_head").get_json()["items"]
    assert next(t for t in listed if t["id"] == task_id)["form"] == {
        "fields": [], "rules": [], "form_on": ["approve"]}
    sent = api("POST", f"/tasks/{task_id}/complete", "station_head", json={
        "action": "reject", "comment": "不符合", "data": {"note": "x"}})
    assert sent.status_code == 422 and set(error_of(sent)["fields"]) == {"data"}
    assert db.session.scalar(select(Task.status).where(Task.id == task_id)) == "open"


def _station() -> int:
    from webapp.services.org import unit_by_code

    return unit_by_code("st-jfb").id
