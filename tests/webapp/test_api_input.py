"""What the API does with input it cannot take as sent: refused with a 422 naming the
member or field (never read as absent), in one error shape, and nothing saved."""
from __future__ import annotations

from sqlalchemy import func, select

from tests.webapp.test_api import (api, error_of, open_task_id, start_wish,  # noqa: F401
                                   wish)
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import DutySlot, HistoryEntry, Instance, Notification, Task
from webapp.services.org import unit_by_code


def history_size(instance_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(HistoryEntry.id)).where(
        HistoryEntry.instance_id == instance_id))


def no_such_field(response, name: str, english: bool = False) -> None:
    assert response.status_code == 422, response.get_json()
    error = error_of(response)
    assert error["code"] == "invalid"
    assert error["fields"] == {name: ["No such field." if english else "没有这个字段。"]}


def test_a_misspelt_member_of_complete_is_refused_and_nothing_is_decided(api, demo):
    wish_id = start_wish(api)["id"]
    task = open_task_id(wish_id)
    typo = api("POST", f"/tasks/{task}/complete", "station_head",
               json={"action": "approve", "comments": "核实无误"})
    no_such_field(typo, "comments")
    db.session.expire_all()
    assert db.session.get(Task, task).status == "open"
    english = api("POST", f"/tasks/{task}/complete", "station_head",
                  headers={"Accept-Language": "en"},
                  json={"action": "approve", "comments": "ok"})
    no_such_field(english, "comments", english=True)
    right = api("POST", f"/tasks/{task}/complete", "station_head",
                json={"action": "approve", "comment": "核实无误"})
    assert right.status_code == 200
    assert {"action": "approve", "comment": "核实无误"}.items() <= next(
        h for h in right.get_json()["history"] if h["action"] == "approve").items()


def test_every_route_with_a_body_refuses_members_it_does_not_have(api, demo):
    started = start_wish(api)
    wish_id = started["id"]
    extra = api("POST", "/processes/micro_wish/instances", "rider1",
                json={"data": wish(), "extra": 1})
    no_such_field(extra, "extra")
    assert db.session.scalar(select(func.count(Instance.id))) == 1
    comment = api("POST", f"/instances/{wish_id}/comments", "rider1",
                  json={"text": "ok", "txt": "x"})
    no_such_field(comment, "txt")
    withdraw = api("POST", f"/instances/{wish_id}/withdraw", "rider1",
                   json={"reason": "不需要了"})
    no_such_field(withdraw, "reason")
    token = api.client.post("/api/v1/tokens", json={"username": "rider1",
                                                    "password": "demo-pass-2026",
                                                    "remember": True})
    no_such_field(token, "remember")
    task = open_task_id(wish_id)
    delegate = api("POST", f"/tasks/{task}/delegate", "station_head",
                   json={"to": "yuzhong_admin", "note": "x"})
    no_such_field(delegate, "note")
    db.session.expire_all()
    assert db.session.get(Instance, wish_id).status == "running"
    assert history_size(wish_id) == len(started["history"])


def test_routes_without_a_body_refuse_members_too(api, demo):
    wish_id = start_wish(api)["id"]
    task = open_task_id(wish_id)
    api("POST", f"/tasks/{task}/complete", "station_head", json={"action": "approve"})
    pooled = open_task_id(wish_id)
    claim = api("POST", f"/tasks/{pooled}/claim", "volunteer1", json={"comment": "我来"})
    no_such_field(claim, "comment")
    assert api("POST", f"/tasks/{pooled}/claim", "volunteer1", json={}).status_code == 200
    note = api("GET", "/notifications?unread=1", "rider1").get_json()["items"][0]["id"]
    read = api("POST", f"/notifications/{note}/read", "rider1", json={"all": True})
    no_such_field(read, "all")
    db.session.expire_all()
    assert db.session.get(Notification, note).read_at is None
    revoke = api("DELETE", "/tokens/current", "rider1", json={"everywhere": True})
    no_such_field(revoke, "everywhere")
    assert api("GET", "/me", "rider1").status_code == 200


def test_delegating_to_someone_who_cannot_take_the_task_is_a_bad_value_of_to(api, demo):
    wish_id = start_wish(api)["id"]
    task = open_task_id(wish_id)
    for who in ("courier1", "station_head", "rider1"):  # not eligible, themself, applicant
        refused = api("POST", f"/tasks/{task}/delegate", "station_head", json={"to": who})
        assert refused.status_code == 422, (who, refused.get_json())
        error = error_of(refused)
        assert error["code"] == "invalid"
        assert set(error["fields"]) == {"to"} and all(error["fields"]["to"]), who
    english = api("POST", f"/tasks/{task}/delegate", "station_head",
                  headers={"Accept-Language": "en"}, json={"to": "courier1"})
    assert error_of(english)["fields"]["to"][0].isascii()
    db.session.expire_all()
    assert [a.user_id for a in db.session.get(Task, task).assignees] == [demo["station_head"].id]


def test_who_may_act_is_asked_before_what_they_sent_is_read(api, demo):
    refused = api("POST", "/processes/micro_wish/instances", "volunteer1", data=b"{bad",
                  content_type="application/json")
    assert refused.status_code == 403, refused.get_json()
    mistyped = api("POST", "/processes/micro_wish/instances", "rider1", data=b"{bad",
                   content_type="application/json")
    assert mistyped.status_code == 400


def test_a_comment_on_a_request_that_has_ended_is_a_conflict(api, demo):
    wish_id = start_wish(api)["id"]
    outsider = api("POST", f"/instances/{wish_id}/comments", "yuzhong_admin",
                   json={"text": "我看看"})
    assert outsider.status_code == 403
    assert api("POST", f"/instances/{wish_id}/withdraw", "rider1").status_code == 200
    late = api("POST", f"/instances/{wish_id}/comments", "rider1", json={"text": "还在吗"})
    assert late.status_code == 409
    assert error_of(late)["code"] == "already_decided" and "结束" in error_of(late)["message"]
    english = api("POST", f"/instances/{wish_id}/comments", "rider1",
                  headers={"Accept-Language": "en"}, json={"text": "hello?"})
    assert english.status_code == 409 and "ended" in error_of(english)["message"]


GENERIC = "提交的内容有误，请检查后重试。"


def test_a_definition_rule_error_is_the_same_422_as_a_form_error(api, demo):
    station = unit_by_code("st-jfb")
    elsewhere = db.session.scalars(select(DutySlot).where(DutySlot.station_id != station.id)
                                   .order_by(DutySlot.starts_at)).first()
    r = api("POST", "/processes/station_master/instances", "volunteer1", json={"data": {
        "station": station.id, "slot": elsewhere.id, "phone": "13700137000"}})
    assert r.status_code == 422, r.get_json()
    error = error_of(r)
    assert (error["code"], error["message"]) == ("invalid", GENERIC)
    assert error["fields"] == {"slot": ["所选时段不属于所选驿站，请重新选择"]}
    form = api("POST", "/processes/station_master/instances", "volunteer1",
               json={"data": {"station": station.id}})
    assert (error_of(form)["code"], error_of(form)["message"]) == ("invalid", GENERIC)


def test_a_return_to_a_step_it_cannot_return_to_names_the_member(api, demo):
    task = open_task_id(start_wish(api)["id"])
    r = api("POST", f"/tasks/{task}/complete", "station_head",
            json={"action": "return", "comment": "请补充", "to": "nowhere"})
    assert r.status_code == 422, r.get_json()
    error = error_of(r)
    assert (error["code"], error["message"]) == ("invalid", GENERIC)
    assert error["fields"] == {"to": ["不能退回到该步骤"]}


def test_every_404_is_not_found(api, demo):
    for method, path in (("GET", "/processes/nothing"),
                         ("POST", "/processes/nothing/instances"),
                         ("GET", "/instances/999999"), ("POST", "/tasks/999999/claim")):
        r = api(method, path, "rider1", json={} if method == "POST" else None)
        assert r.status_code == 404 and error_of(r)["code"] == "not_found", path


def test_too_long_always_states_the_fields_own_limit(api, demo):
    for size in (501, 100_001, 1_000_000):
        r = api("POST", "/processes/micro_wish/instances", "rider1",
                json={"data": wish(story="长" * size)})
        assert r.status_code == 422, size
        assert error_of(r)["fields"] == {"story": ["最多填写 500 个字。"]}, size
    english = api("POST", "/processes/micro_wish/instances", "rider1",
                  headers={"Accept-Language": "en"}, json={"data": wish(title="x" * 200_000)})
    assert error_of(english)["fields"]["title"] == ["Enter at most 40 characters."]


def test_a_numeral_too_long_for_python_is_invalid_input_not_a_crash(api, demo):
    r = api("POST", "/processes/micro_wish/instances", "rider1",
            json={"data": wish(station="9" * 5000)})
    assert r.status_code == 422 and set(error_of(r)["fields"]) == {"station"}


def unit_fields(form: dict) -> list[dict]:
    return [f for f in form["fields"] if f["type"] == "org_unit"]


def test_unit_choices_have_plain_labels_and_say_where_they_sit(api, demo):
    process = api("GET", "/processes/worker_demand", "rider1").get_json()
    fields = unit_fields(process["form"]) + [f for step in process["steps"]
                                             for f in unit_fields(step["form"])]
    assert fields and all(f.get("choices") for f in fields)
    choices = [c for f in fields for c in f["choices"]]
    assert not any(c["label"].startswith("\u3000") or c["label"] != c["label"].strip()
                   for c in choices)
    street = unit_by_code("cq-yz-jfb")
    listed = next(c for c in choices if c["value"] == str(street.id))
    assert listed == {"value": str(street.id), "label": "解放碑街道工会",
                      "depth": street.depth, "parent": str(street.parent_id)}
    start_id = api("POST", "/processes/worker_demand/instances", "rider1", json={"data": {
        "category": "parking", "station": unit_by_code("st-jfb").id, "location": "东口",
        "phone": "13800138000", "description": "送餐高峰期电动车没有地方停，希望增加临时停车位。"}})
    assert start_id.status_code == 201, start_id.get_json()
    tasks = api("GET", "/tasks", "yuzhong_admin").get_json()["items"]
    task_choices = [c for t in tasks for f in unit_fields(t["form"]) for c in f["choices"]]
    assert task_choices and not any(c["label"].startswith("\u3000") for c in task_choices)
    assert all(isinstance(c["depth"], int) for c in task_choices)


def test_a_multipart_part_without_a_name_is_refused_not_a_crash(api, demo):  # noqa: F811
    """Werkzeug gives a part sent without a name the key ``None``: not a member either."""
    body = (b'--X\r\nContent-Disposition: form-data; name="json"\r\n\r\n{"data": {}}\r\n'
            b'--X\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--X--\r\n')
    r = api("POST", "/processes/worker_demand/instances", "rider1", data=body,
            content_type="multipart/form-data; boundary=X")
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert error_of(r)["fields"]["None"] == ["没有这个字段。"]


def test_complete_points_a_listed_delegate_to_its_own_route(api, demo):  # noqa: F811
    """A task lists ``delegate`` among what the caller may do; ``complete`` does decisions
    and says where a delegation goes instead of a bare list of other values."""
    wish_id = start_wish(api)["id"]
    task = open_task_id(wish_id)
    listed = api("GET", "/tasks?scope=mine", "station_head").get_json()["items"]
    assert "delegate" in next(t for t in listed if t["id"] == task)["actions"]
    r = api("POST", f"/tasks/{task}/complete", "station_head", json={"action": "delegate"})
    assert r.status_code == 422
    assert error_of(r)["fields"]["action"] == [
        f"“delegate”请用 POST /api/v1/tasks/{task}/delegate。"]


def test_unknown_query_arguments_are_refused_but_a_cache_buster_is_ignored(api, demo):
    """An argument a route does not take is a 422 naming it (a typo is not read as
    something else); one starting with "_" — ``?_=<time>``, which some HTTP stacks add to
    every GET — is ignored everywhere.  The document lists the 422 on every operation."""
    for path in ("/me", "/processes", "/instances", "/stations", "/openapi.json"):
        typo = api("GET", f"{path}?pagee=2", "rider1")
        assert typo.status_code == 422 and error_of(typo)["fields"] == {
            "pagee": ["没有这个查询参数。"]}, path
        assert api("GET", f"{path}?_=1733011200", "rider1").status_code == 200, path
    doc = api("GET", "/openapi.json").get_json()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert "422" in operation["responses"], (method, path)
            if method in ("post", "put", "patch"):
                assert "413" in operation["responses"], (method, path)
