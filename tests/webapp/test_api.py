"""The JSON API of shared/API.md: each route's success and failure answers."""
from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.services.users import find_user
from webapp.models import ApiToken, Instance, Notification, Task
from webapp.services.org import unit_by_code
from tests.webapp.test_pages import PNG, login  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401

DEMO_PASSWORD = "demo-pass-2026"


class Api:
    """A client that signs in through POST /api/v1/tokens and sends the bearer token."""

    def __init__(self, client):
        self.client, self.tokens = client, {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            r = self.client.post("/api/v1/tokens",
                                 json={"username": username, "password": DEMO_PASSWORD})
            assert r.status_code == 201, r.get_json()
            self.tokens[username] = r.get_json()["token"]
        return self.tokens[username]

    def __call__(self, method: str, path: str, who: str | None = None, **kwargs):
        headers = dict(kwargs.pop("headers", {}))
        if who:
            headers["Authorization"] = "Bearer " + self.token(who)
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kwargs)


@pytest.fixture
def api(client):
    return Api(client)


def wish(**changes):
    data = {"title": "一个新头盔", "category": "goods", "story": "电动车头盔摔坏了，想要一个新的",
            "budget": "80", "station": unit_by_code("st-jfb").id, "contact_name": "马超",
            "phone": "13800138000"}
    return {**data, **changes}


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["message"]
    return body["error"]


def start_wish(api, who="rider1", **changes) -> dict:
    r = api("POST", "/processes/micro_wish/instances", who, json={"data": wish(**changes)})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def open_task_id(instance_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(Task.id).where(Task.instance_id == instance_id,
                                                   Task.status == "open"))


# ---------------------------------------------------------------------------- tokens

def test_token_issue_use_and_revoke(api, demo):
    r = api.client.post("/api/v1/tokens", json={"username": "rider1", "password": DEMO_PASSWORD})
    assert r.status_code == 201
    body = r.get_json()
    expires = datetime.fromisoformat(body["expires_at"])
    assert expires.utcoffset() is not None and expires > datetime.now(timezone.utc)
    headers = {"Authorization": "Bearer " + body["token"]}
    assert api.client.get("/api/v1/me", headers=headers).get_json()["username"] == "rider1"
    # Only a digest is stored.
    assert db.session.scalar(select(ApiToken.digest)) != body["token"]
    assert api.client.delete("/api/v1/tokens/current", headers=headers).status_code == 204
    again = api.client.get("/api/v1/me", headers=headers)
    assert again.status_code == 401 and error_of(again)["code"] == "invalid_token"


def test_bad_credentials_are_one_answer_and_repeats_are_refused(api, demo):
    wrong = api.client.post("/api/v1/tokens", json={"username": "rider1", "password": "nope"})
    nobody = api.client.post("/api/v1/tokens", json={"username": "ghost", "password": "nope"})
    assert wrong.status_code == nobody.status_code == 401
    assert error_of(wrong) == error_of(nobody)
    for _ in range(6):
        last = api.client.post("/api/v1/tokens", json={"username": "rider1", "password": "x"})
    assert last.status_code == 429 and error_of(last)["code"] == "too_many_requests"
    # Even the right password waits until the window has passed.
    right = api.client.post("/api/v1/tokens",
                            json={"username": "rider1", "password": DEMO_PASSWORD})
    assert right.status_code == 429


def test_token_lifetime_comes_from_the_environment_in_seconds(app, api, demo):
    app.config["API_TOKEN_TTL"] = 3600
    r = api.client.post("/api/v1/tokens", json={"username": "rider1", "password": DEMO_PASSWORD})
    left = datetime.fromisoformat(r.get_json()["expires_at"]) - datetime.now(timezone.utc)
    assert timedelta(minutes=59) < left <= timedelta(hours=1)


def test_token_requests_per_person_are_limited(app, api, demo):
    app.config["TOKEN_ISSUE_LIMITS"] = ("3 per hour",)
    answers = [api.client.post("/api/v1/tokens", json={"username": "driver1",
                                                       "password": DEMO_PASSWORD}).status_code
               for _ in range(4)]
    assert answers == [201, 201, 201, 429]


def test_missing_expired_and_deactivated_tokens_are_401(api, demo):
    assert error_of(api("GET", "/me"))["code"] == "unauthorized"
    assert api("GET", "/me", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert api("GET", "/me", headers={"Authorization": "Basic cmlkZXIxOng="}).status_code == 401
    token = api.token("courier1")
    row = db.session.scalars(select(ApiToken)).one()
    row.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    db.session.commit()
    assert api("GET", "/me", "courier1").status_code == 401
    row.expires_at = datetime.now(timezone.utc) + timedelta(days=1)
    row.user.active = False
    db.session.commit()
    assert api("GET", "/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_signed_in_browser_cookie_does_not_authenticate_the_api(client, demo):
    signed_in = client.post("/auth/login", data={"username": "rider1",
                                                 "password": DEMO_PASSWORD})
    assert signed_in.status_code == 302
    assert client.get("/inbox").status_code == 200
    assert client.get("/api/v1/me").status_code == 401


def test_bearer_calls_need_no_csrf_token_but_pages_still_do(app, api, demo):
    app.config["WTF_CSRF_ENABLED"] = True
    token = api.token("rider1")
    r = api.client.post("/api/v1/processes/micro_wish/instances",
                        headers={"Authorization": f"Bearer {token}"}, json={"data": wish()})
    assert r.status_code == 201
    page = api.client.post("/auth/login", data={"username": "rider1", "password": "x"})
    assert page.status_code == 400


def test_me_lists_roles_at_units(api, demo):
    me = api("GET", "/me", "branch_secretary").get_json()
    assert me["username"] == "branch_secretary" and me["display_name"] == "支部书记 李红"
    assert {(r["role"], r["unit"]["code"]) for r in me["roles"]} == {
        ("branch_secretary", "cq-yz-jfb-branch1"), ("volunteer", "cq-yz-jfb-branch1")}
    en = api("GET", "/me", "branch_secretary", headers={"Accept-Language": "en"}).get_json()
    assert {r["label"] for r in en["roles"]} == {"Branch secretary", "Volunteer (party member)"}


def test_a_phone_in_another_language_gets_the_persons_own_setting(api, demo):
    """Accept-Language naming neither Chinese nor English (a phone set to German) does not
    overrule the language the person chose; one we speak still does."""
    english = {"Branch secretary", "Volunteer (party member)"}
    find_user("branch_secretary").locale = "en"
    db.session.commit()

    def labels(header):
        headers = {"Accept-Language": header} if header else {}
        me = api("GET", "/me", "branch_secretary", headers=headers).get_json()
        return {r["label"] for r in me["roles"]}

    assert labels("de-DE,de;q=0.9") == labels("") == english
    assert labels("zh-CN") != english and labels("fr;q=0.9,en;q=0.5") == english


# ---------------------------------------------------------------------------- processes

def test_processes_the_caller_may_start_and_one_with_its_form(api, demo):
    keys = {p["key"] for p in api("GET", "/processes", "rider1").get_json()["items"]}
    assert {"micro_wish", "worker_demand", "training_registration"} <= keys
    assert "station_master" not in keys  # volunteers sign up for duty, not riders
    volunteer = {p["key"] for p in api("GET", "/processes", "volunteer1").get_json()["items"]}
    assert "station_master" in volunteer
    process = api("GET", "/processes/micro_wish", "rider1").get_json()
    assert process["can_start"] is True and process["version"] == 1
    fields = {f["name"]: f for f in process["form"]["fields"]}
    assert fields["title"] == {"name": "title", "type": "text", "label": "心愿",
                               "required": True, "max_length": 40}
    assert {"value": "goods", "label": "物品"} in fields["category"]["choices"]
    assert fields["station"]["type"] == "station" and fields["station"]["choices"]
    assert fields["phone"]["private"] is True
    assert [s["id"] for s in process["steps"]][:3] == ["verify", "wall", "fulfil"]
    missing = api("GET", "/processes/no_such_thing", "rider1")
    assert missing.status_code == 404 and error_of(missing)


def test_start_answers_201_with_the_instance(api, demo):
    r = api("POST", "/processes/micro_wish/instances", "rider1", json={"data": wish()})
    assert r.status_code == 201
    body = r.get_json()
    assert r.headers["Location"].endswith(f"/api/v1/instances/{body['id']}")
    assert body["status"] == "running" and body["state"] == "verify"
    assert body["data"]["phone"] == "13800138000"  # the applicant sees their own data
    assert body["history"][0]["action"] == "submit"


def test_start_with_invalid_data_is_422_with_field_messages(api, demo):
    r = api("POST", "/processes/micro_wish/instances", "rider1",
            json={"data": {"title": "", "category": "car", "story": 5, "phone": "123",
                           "station": "abc", "nonsense": 1}})
    assert r.status_code == 422
    fields = error_of(r)["fields"]
    assert {"title", "category", "story", "phone", "station", "nonsense",
            "contact_name"} <= set(fields)
    assert all(isinstance(m, str) and m for texts in fields.values() for m in texts)
    en = api("POST", "/processes/micro_wish/instances", "driver1",
             headers={"Accept-Language": "en"}, json={"data": {}})
    assert en.status_code == 422
    assert error_of(en)["message"] == ("Something in what you sent is not right. "
                                       "Please check and try again.")
    assert all(m.isascii() for texts in error_of(en)["fields"].values() for m in texts)
    assert db.session.scalar(select(Instance.id)) is None  # nothing saved half-way


def test_malformed_json_and_non_objects_are_400(api, demo):
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe", b'"text"', b"{" * 5000):
        r = api("POST", "/processes/micro_wish/instances", "rider1", data=raw,
                content_type="application/json")
        assert r.status_code == 400, raw
        assert error_of(r)["code"] in ("malformed_json", "not_an_object")
    r = api("POST", "/processes/micro_wish/instances", "rider1", json={"data": [1]})
    assert r.status_code == 422


def test_second_open_wish_is_a_conflict_and_others_may_not_start(api, demo):
    start_wish(api)
    second = api("POST", "/processes/micro_wish/instances", "rider1", json={"data": wish()})
    assert second.status_code == 409 and error_of(second)["code"] == "already_active"
    refused = api("POST", "/processes/micro_wish/instances", "station_head",
                  json={"data": wish()})
    assert refused.status_code == 403


def test_claiming_again_says_you_already_claimed_it(api, demo):
    wish_id = start_wish(api)["id"]
    assert api("POST", f"/tasks/{open_task_id(wish_id)}/complete", "station_head",
               json={"action": "approve", "comment": "情况属实"}).status_code == 200
    wall = open_task_id(wish_id)
    assert api("POST", f"/tasks/{wall}/claim", "volunteer1").status_code == 200
    again = api("POST", f"/tasks/{wall}/claim", "volunteer1")
    assert again.status_code == 409
    error = error_of(again)
    assert error["code"] == "already_yours" and "您已认领" in error["message"]
    assert "他人" not in error["message"]
    en = api("POST", f"/tasks/{wall}/claim", "volunteer1", headers={"Accept-Language": "en"})
    assert en.status_code == 409 and "already claimed" in error_of(en)["message"]
    other = api("POST", f"/tasks/{wall}/claim", "branch_secretary")
    assert other.status_code == 409 and "您已认领" not in error_of(other)["message"]


# ---------------------------------------------------------------------------- a wish, end to end

def test_micro_wish_end_to_end_through_the_api(api, demo):
    started = start_wish(api)
    wish_id = started["id"]
    inbox = api("GET", "/tasks?scope=mine", "station_head").get_json()
    task = next(t for t in inbox["items"] if t["instance_id"] == wish_id)
    assert set(task["actions"]) >= {"approve", "reject", "return"} and task["name"] == "驿站核实"
    no_reason = api("POST", f"/tasks/{task['id']}/complete", "station_head",
                    json={"action": "reject"})
    assert no_reason.status_code == 422 and "comment" in error_of(no_reason)["fields"]
    approved = api("POST", f"/tasks/{task['id']}/complete", "station_head",
                   json={"action": "approve", "comment": "情况属实"})
    assert approved.status_code == 200 and approved.get_json()["state"] == "wall"
    again = api("POST", f"/tasks/{task['id']}/complete", "station_head",
                json={"action": "approve"})
    assert again.status_code == 409

    pool = api("GET", "/tasks?scope=pool", "volunteer1").get_json()["items"]
    wall = next(t for t in pool if t["instance_id"] == wish_id)
    assert wall["actions"] == ["claim"]
    before = api("GET", f"/instances/{wish_id}", "volunteer1").get_json()
    assert before["data"]["phone"] == "138****8000" and "马超" not in json.dumps(
        before, ensure_ascii=False)
    assert before["applicant"]["username"] is None
    assert api("GET", f"/instances/{wish_id}", "volunteer2").status_code == 404
    assert api("POST", f"/tasks/{wall['id']}/claim", "volunteer2").status_code == 404
    claimed = api("POST", f"/tasks/{wall['id']}/claim", "volunteer1")
    assert claimed.status_code == 200 and claimed.get_json()["data"]["phone"] == "13800138000"
    assert api("POST", f"/tasks/{wall['id']}/claim", "branch_secretary").status_code == 409

    fulfil = open_task_id(wish_id)
    no_photo = api("POST", f"/tasks/{fulfil}/complete", "volunteer1",
                   json={"action": "complete", "data": {"fulfil_note": "已送达"}})
    assert no_photo.status_code == 422 and "proof" in error_of(no_photo)["fields"]
    not_theirs = api("POST", f"/tasks/{fulfil}/complete", "station_head",
                     json={"action": "complete"})
    assert not_theirs.status_code in (403, 404)
    done = api("POST", f"/tasks/{fulfil}/complete", "volunteer1",
               data={"json": json.dumps({"action": "complete", "data": {"fulfil_note": "已送达"}}),
                     "proof": (io.BytesIO(PNG), "头盔.png")},
               content_type="multipart/form-data")
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["state"] == "confirm"

    confirm = open_task_id(wish_id)
    bad = api("POST", f"/tasks/{confirm}/complete", "rider1",
              json={"action": "complete", "data": {"satisfied": "yes", "rating": 9}})
    assert bad.status_code == 422 and "rating" in error_of(bad)["fields"]
    closed = api("POST", f"/tasks/{confirm}/complete", "rider1",
                 json={"action": "complete", "data": {"satisfied": "yes", "rating": 5}})
    assert closed.status_code == 200 and closed.get_json()["status"] == "completed"
    late = api("POST", f"/instances/{wish_id}/withdraw", "rider1")
    assert late.status_code == 409


def test_the_tasks_an_answer_shows_are_the_open_rows_of_the_table(api, demo):
    """A step's answer lists the open tasks from the state and the ids the step's INSERTs
    returned (no read back) when the step opened them all, else from the table: either
    way exactly what the table holds — ids, steps, kinds and due dates."""
    def table(instance_id):
        db.session.expire_all()
        return [(t.id, t.step, t.kind, t.due_at) for t in db.session.scalars(
            select(Task).where(Task.instance_id == instance_id, Task.status == "open")
            .order_by(Task.id))]

    def shown(body):
        return [(t["id"], t["step"], t["kind"],
                 datetime.fromisoformat(t["due_at"]) if t["due_at"] else None)
                for t in body["tasks"]]

    started = start_wish(api)
    wish_id = started["id"]
    assert shown(started) == table(wish_id) and len(started["tasks"]) == 1
    approved = api("POST", f"/tasks/{started['tasks'][0]['id']}/complete", "station_head",
                   json={"action": "approve"}).get_json()
    assert shown(approved) == table(wish_id) and approved["tasks"][0]["step"] != "verify"
    # Claiming keeps the task opened by an earlier step: read from the table.
    claimed = api("POST", f"/tasks/{approved['tasks'][0]['id']}/claim", "volunteer1").get_json()
    assert shown(claimed) == table(wish_id) and claimed["tasks"]
    assert claimed["tasks"][0]["actions"]  # the claimer's buttons on the task
    done = api("POST", f"/tasks/{claimed['tasks'][0]['id']}/complete", "volunteer1",
               data={"json": json.dumps({"action": "complete",
                                         "data": {"fulfil_note": "已送达"}}),
                     "proof": (io.BytesIO(PNG), "头盔.png")},
               content_type="multipart/form-data").get_json()
    assert done["state"] == "confirm" and shown(done) == table(wish_id)
    closed = api("POST", f"/tasks/{done['tasks'][0]['id']}/complete", "rider1",
                 json={"action": "complete", "data": {"satisfied": "yes", "rating": 5}})
    assert closed.get_json()["tasks"] == [] == table(wish_id)


def test_stale_version_is_409_not_a_second_step(api, demo):
    started = start_wish(api)
    task = open_task_id(started["id"])
    stale = api("POST", f"/tasks/{task}/complete", "station_head",
                json={"action": "approve", "version": started["lock_version"] - 1})
    assert stale.status_code == 409
    ok = api("POST", f"/tasks/{task}/complete", "station_head",
             json={"action": "approve", "version": started["lock_version"]})
    assert ok.status_code == 200


def test_complete_refuses_unknown_actions_and_strangers(api, demo):
    task = open_task_id(start_wish(api)["id"])
    unknown = api("POST", f"/tasks/{task}/complete", "station_head", json={"action": "explode"})
    assert unknown.status_code == 422 and "action" in error_of(unknown)["fields"]
    assert api("POST", f"/tasks/{task}/complete", "courier1",
               json={"action": "approve"}).status_code == 404
    # The applicant sees the request but may not decide its verification.
    assert api("POST", f"/tasks/{task}/complete", "rider1",
               json={"action": "approve"}).status_code == 403
    assert api("POST", "/tasks/999999/complete", "station_head",
               json={"action": "approve"}).status_code == 404


def open_task_id_of_any(instance_id: int) -> int:
    """The request's first task, open or not."""
    db.session.expire_all()
    return db.session.scalar(select(Task.id).where(Task.instance_id == instance_id)
                             .order_by(Task.id))


def test_withdraw_comment_and_lists(api, demo):
    wish_id = start_wish(api)["id"]
    assert api("POST", f"/instances/{wish_id}/withdraw", "station_head").status_code == 403
    empty = api("POST", f"/instances/{wish_id}/comments", "rider1", json={"text": "  "})
    assert empty.status_code == 422 and "text" in error_of(empty)["fields"]
    said = api("POST", f"/instances/{wish_id}/comments", "rider1", json={"text": "周末都在"})
    assert said.status_code == 201
    assert said.get_json()["history"][-1]["comment"] == "周末都在"
    gone = api("POST", f"/instances/{wish_id}/withdraw", "rider1", json={"comment": "不需要了"})
    assert gone.status_code == 200 and gone.get_json()["status"] == "withdrawn"
    # The station head, a moment late, is told how and when it ended — not just "closed".
    late = api("POST", f"/tasks/{open_task_id_of_any(wish_id)}/complete", "station_head",
               json={"action": "approve"})
    assert late.status_code == 409
    assert error_of(late)["message"].startswith("该申请已结束（已撤回，")
    mine = api("GET", "/instances", "rider1").get_json()
    assert mine["total"] == 1 and mine["items"][0]["status"] == "withdrawn"
    # Ended without reaching an end of the definition: its state says how, and is found.
    assert gone.get_json()["state"] == mine["items"][0]["state"] == "withdrawn"
    assert api("GET", "/instances?state=withdrawn", "rider1").get_json()["total"] == 1
    assert api("GET", "/instances?state=verify", "rider1").get_json()["total"] == 0
    assert api("GET", "/instances?status=running", "rider1").get_json()["total"] == 0
    assert api("GET", "/instances?status=bogus", "rider1").status_code == 422
    assert api("GET", "/instances", "courier1").get_json()["total"] == 0
    staff = api("GET", "/instances?mine=0", "yuzhong_admin").get_json()
    assert [i["id"] for i in staff["items"]] == [wish_id]
    assert api("GET", "/instances?mine=0", "jiangbei_admin").get_json()["total"] == 0
    assert api("GET", "/instances?mine=0&process=worker_demand",
               "yuzhong_admin").get_json()["total"] == 0


def test_task_scope_must_be_mine_or_pool(api, demo):
    assert api("GET", "/tasks?scope=everything", "station_head").status_code == 422
    for odd in ("per_page=1000", "page=-4", "page=", "per_page=x", "page=99999999999999"):
        answer = api("GET", f"/tasks?{odd}", "station_head")
        assert answer.status_code == 422, odd
        assert set(error_of(answer)["fields"]) == {odd.split("=")[0]}
    assert api("GET", "/tasks?per_page=100&page=2", "station_head").get_json()["per_page"] == 100


def test_a_page_past_the_end_is_empty_so_an_app_knows_to_stop(api, demo):
    """Loading page after page until one is empty ends, and never shows an item twice."""
    seen = []
    for page in range(1, 20):
        body = api("GET", f"/stations?per_page=2&page={page}", "rider1").get_json()
        assert body["page"] == page and body["per_page"] == 2
        if not body["items"]:
            break
        seen += [s["id"] for s in body["items"]]
    else:
        raise AssertionError("the pages never ran out")
    assert len(seen) == len(set(seen)) == body["total"] and page == -(-body["total"] // 2) + 1
    far = api("GET", "/notifications?page=999", "rider1").get_json()
    assert far["items"] == [] and far["page"] == 999


def test_delegate_to_a_colleague_by_username(api, demo, make_user):
    task = open_task_id(start_wish(api)["id"])
    nobody = api("POST", f"/tasks/{task}/delegate", "station_head", json={"to": "ghost"})
    assert nobody.status_code == 422 and "to" in error_of(nobody)["fields"]
    make_user("deputy", ("station_head", unit_by_code("st-jfb")), password=DEMO_PASSWORD)
    given = api("POST", f"/tasks/{task}/delegate", "station_head", json={"to": "deputy"})
    assert given.status_code == 200, given.get_json()
    assert any(t["id"] == task for t in api("GET", "/tasks", "deputy").get_json()["items"])


def test_who_a_task_may_be_handed_to_is_listed(api, demo, make_user):
    """No guessing usernames: the holder lists who may take the task — the people its
    step's rule or escalation names — and each of them is accepted."""
    task = open_task_id(start_wish(api)["id"])
    make_user("deputy", ("station_head", unit_by_code("st-jfb")), password=DEMO_PASSWORD)
    listed = api("GET", f"/tasks/{task}/delegates", "station_head")
    assert listed.status_code == 200, listed.get_json()
    people = {p["username"]: p for p in listed.get_json()["items"]}
    assert "deputy" in people and "station_head" not in people and "rider1" not in people
    assert people["deputy"]["display_name"] and all("unit" in p for p in people.values())
    assert api("GET", f"/tasks/{task}/delegates", "volunteer1").status_code in (403, 404)
    assert api("GET", f"/tasks/{task}/delegates", "courier1").status_code == 404
    for username in people:  # every one listed may take it (checked, then undone)
        given = api("POST", f"/tasks/{task}/delegate", "station_head", json={"to": username})
        assert given.status_code == 200, (username, given.get_json())
        back = api("POST", f"/tasks/{task}/delegate", username, json={"to": "station_head"})
        assert back.status_code == 200, (username, back.get_json())
    # The task's page offers the same names.
    api.client.post("/auth/login", data={"username": "station_head", "password": DEMO_PASSWORD})
    page = api.client.get(f"/tasks/{task}").get_data(as_text=True)
    assert 'list="delegate-people"' in page and '<option value="deputy"' in page


# ---------------------------------------------------------------------------- notifications, stations

def test_notifications_newest_first_and_mark_read(api, demo):
    wish_id = start_wish(api)["id"]
    task = open_task_id(wish_id)
    api("POST", f"/tasks/{task}/complete", "station_head", json={"action": "approve"})
    listed = api("GET", "/notifications?unread=1", "rider1").get_json()
    assert listed["total"] >= 1
    first = listed["items"][0]
    assert first["instance_id"] == wish_id and first["read"] is False and first["title"]
    assert first["body"] == "一个新头盔"
    marked = api("POST", f"/notifications/{first['id']}/read", "rider1")
    assert marked.status_code == 200 and marked.get_json()["read"] is True
    assert api("POST", f"/notifications/{first['id']}/read", "courier1").status_code == 404
    assert api("GET", "/notifications?unread=1", "rider1").get_json()["total"] == listed[
        "total"] - 1
    assert db.session.scalar(select(Notification.read_at).where(
        Notification.id == first["id"])) is not None


def test_station_directory_filters(api, demo):
    everything = api("GET", "/stations", "rider1").get_json()
    assert everything["total"] >= 3
    charging = api("GET", "/stations?service=charging&service=parking", "rider1").get_json()
    assert charging["items"] and all(s["services"]["charging_piles"] > 0
                                     and s["services"]["car_parking"] > 0
                                     for s in charging["items"])
    near = api("GET", "/stations?q=解放碑", "rider1").get_json()
    assert near["items"] and all("解放碑" in (s["name"] + s["address"] + (s["landmark"] or ""))
                                 for s in near["items"])
    yuzhong = unit_by_code("cq-yz").id
    assert all(s["district"] == "渝中区总工会" for s in api(
        "GET", f"/stations?district={yuzhong}", "rider1").get_json()["items"])
    assert api("GET", "/stations?service=spa", "rider1").status_code == 422
    assert api("GET", "/stations?district=abc", "rider1").status_code == 422


def test_unknown_routes_and_methods_answer_in_the_error_shape(api, demo):
    assert error_of(api("GET", "/nothing/here", "rider1"))["code"] == "not_found"
    wrong = api("PUT", "/me", "rider1")
    assert wrong.status_code == 405 and error_of(wrong)


def test_nul_characters_in_query_strings_are_refused_everywhere(api, login, demo):
    assert api("GET", "/stations?q=%00", "rider1").status_code == 400
    assert login("rider1").get("/stations?q=a%00b").status_code == 400


def test_the_history_an_answer_shows_is_the_history_table(api, demo):
    """The answer builds the history from the instance's state (no read of the table):
    it must say exactly what the table says — times, names (masked the same way), actions,
    steps and comments — for a decider, a masked viewer, the applicant and the system."""
    from datetime import datetime, timedelta, timezone

    from webapp.processes.helpers import history_rows
    from webapp.services import workflow as wf

    def table(instance_id, may_see):
        db.session.expire_all()
        instance = db.session.get(Instance, instance_id)
        return [(e.at, name, e.action, e.step, e.comment)
                for e, name in history_rows(instance, may_see, insider=may_see)]

    def shown(body):
        return [(datetime.fromisoformat(h["at"]), h["actor"], h["action"], h["step"],
                 h["comment"]) for h in body["history"]]

    wish_id = start_wish(api)["id"]
    approved = api("POST", f"/tasks/{open_task_id(wish_id)}/complete", "station_head",
                   json={"action": "approve", "comment": "情况属实"}).get_json()
    assert shown(approved) == table(wish_id, True)
    assert api("POST", f"/instances/{wish_id}/comments", "rider1",
               json={"text": "周末都在"}).status_code == 201
    masked = api("GET", f"/instances/{wish_id}", "volunteer1").get_json()  # on the wall
    own = api("GET", f"/instances/{wish_id}", "rider1").get_json()
    assert shown(masked) == table(wish_id, False)
    # Remarks are for those involved: not for a volunteer who has not claimed it yet.
    assert [h["comment"] for h in masked["history"]][-2:] == [None, None]
    assert shown(own) == table(wish_id, True)
    assert masked["history"][0]["actor"] != own["history"][0]["actor"]  # the applicant, masked
    # The wall's time-out: a line by the system (no name).
    assert wf.fire_due_timers(datetime.now(timezone.utc) + timedelta(days=400)) >= 1
    expired = api("GET", f"/instances/{wish_id}", "rider1").get_json()
    assert expired["status"] == "expired"
    assert shown(expired) == table(wish_id, True)
    assert any(h["actor"] is None for h in expired["history"])


def test_a_returned_request_names_the_applicants_task_for_what_they_do(api, demo):
    """The app shows the applicant "correct and resubmit", as the pages do — not the
    reviewer's step the request goes back to."""
    wish_id = start_wish(api)["id"]
    assert api("POST", f"/tasks/{open_task_id(wish_id)}/complete", "station_head",
               json={"action": "return", "comment": "请写清楚尺码"}).status_code == 200
    revise = open_task_id(wish_id)
    mine = api("GET", "/tasks?scope=mine", "rider1").get_json()["items"]
    assert [t["name"] for t in mine if t["id"] == revise] == ["修改后重新提交"]
    english = api("GET", f"/instances/{wish_id}", "rider1", headers={"Accept-Language": "en"})
    assert [t["name"] for t in english.get_json()["tasks"]] == ["Correct and resubmit"]


def test_a_returned_requests_form_is_the_start_form_with_what_was_sent(api, demo):
    """What to correct, not to type again: the revise task's form is the start form as
    the start offers it (stations of the caller's district, the directory to search),
    each field carrying its value now."""
    sent = wish()
    wish_id = start_wish(api)["id"]
    assert api("POST", f"/tasks/{open_task_id(wish_id)}/complete", "station_head",
               json={"action": "return", "comment": "请写清楚尺码"}).status_code == 200
    revise = open_task_id(wish_id)
    task = next(t for t in api("GET", "/tasks?scope=mine", "rider1").get_json()["items"]
                if t["id"] == revise)
    fields = {f["name"]: f for f in task["form"]["fields"]}
    start = {f["name"]: f for f in api("GET", "/processes/micro_wish", "rider1").get_json()
             ["form"]["fields"]}
    assert set(fields) == set(start)
    assert fields["station"].get("choices_search") == start["station"].get("choices_search")
    assert fields["station"]["choices"] == start["station"]["choices"]
    assert fields["title"]["value"] == sent["title"] and fields["station"]["value"] == sent[
        "station"]
    assert fields["phone"]["value"] == "13800138000"  # their own: not masked
    # Sending the values back as they are is a valid resubmit.
    again = api("POST", f"/tasks/{revise}/complete", "rider1", json={
        "action": "resubmit", "data": {name: f["value"] for name, f in fields.items()
                                       if f["value"] is not None}})
    assert again.status_code == 200, again.get_json()


def test_an_overseer_presses_a_task_s_holder_through_the_api(api, demo):
    """POST /tasks/{id}/urge: listed in the task's actions for whoever may press (an
    administrator over the applicant's unit), a note with it, once in four hours."""
    from webapp.models import Notification

    made = start_wish(api)
    task_id = open_task_id(made["id"])
    seen = api("GET", f"/instances/{made['id']}", "yuzhong_admin").get_json()
    assert "urge" in seen["tasks"][0]["actions"]
    assert "urge" not in api("GET", f"/instances/{made['id']}", "station_head").get_json()[
        "tasks"][0]["actions"]
    typo = api("POST", f"/tasks/{task_id}/urge", "yuzhong_admin", json={"note": "x"})
    assert typo.status_code == 422
    done = api("POST", f"/tasks/{task_id}/urge", "yuzhong_admin", json={"comment": "请今天核实"})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["history"][-1]["action"] == "urge"
    assert db.session.scalar(select(Notification.user_id).where(
        Notification.kind == "urged")) == demo["station_head"].id
    again = api("POST", f"/tasks/{task_id}/urge", "yuzhong_admin")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "urged_recently"
    refused = api("POST", f"/tasks/{task_id}/urge", "rider1")
    assert refused.status_code == 403


def test_a_process_allowing_one_open_request_names_the_callers_open_one(api, demo):
    """A second micro-wish cannot be started while the first is open: the process says
    so, and which request it is, before the form is filled in."""
    first = api("GET", "/processes/micro_wish", "rider1").get_json()
    assert (first["can_start"], first["open_request"]) == (True, None)
    made = start_wish(api)
    again = api("GET", "/processes/micro_wish", "rider1").get_json()
    assert (again["can_start"], again["open_request"]) == (False, made["id"])
    other = api("GET", "/processes/micro_wish", "courier1").get_json()
    assert (other["can_start"], other["open_request"]) == (True, None)
    refused = api("POST", "/processes/micro_wish/instances", "rider1", json={"data": wish()})
    assert refused.status_code == 409 and error_of(refused)["code"] == "already_active"
    # Before the form is read: an empty one is not answered with its fields' errors.
    empty = api("POST", "/processes/micro_wish/instances", "rider1", json={"data": {}})
    assert empty.status_code == 409 and error_of(empty)["code"] == "already_active"
    # Not one-at-a-time: nothing named.
    demand = api("GET", "/processes/worker_demand", "rider1").get_json()
    assert demand["open_request"] is None
