"""Authorisation matrix: every demo role × every API route × an object of their own unit
and one of another unit.  Each cell says allow or deny; deny is 401/403/404 (404 when the
object is out of the caller's sight), allow is anything else except a 5xx.

Mutating routes are called with a body that passes the permission check but fails
validation, so an allowed caller gets 422 and nothing changes; claiming is the exception
(it has no body), and runs its allowed callers last.
"""
from __future__ import annotations

import io
import json

import pytest

from webapp.extensions import db
from tests.webapp.test_api import Api, open_task_id, wish
from tests.webapp.test_pages import PNG
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.models import Notification, StoredFile
from webapp.services.org import unit_by_code
from sqlalchemy import select

EVERYONE = frozenset({"admin", "city_admin", "supervisor", "yuzhong_admin", "jiangbei_admin",
                      "shapingba_admin", "unit_admin", "station_head", "branch_secretary",
                      "volunteer1", "volunteer2", "rider1", "courier1", "driver1"})
WORKERS = frozenset({"rider1", "courier1", "driver1"})
CITY = frozenset({"admin", "city_admin", "supervisor"})  # oversight of the whole city
# Comments come from the people in the case (applicant, whoever holds a task) and the
# platform admin; overseers read, and supervisors never act.
COMMENT_ADMIN = frozenset({"admin"})

# What each caller may reach.  "yz": rider1's wish at 解放碑 (渝中区), waiting for the
# station head; "jb": driver1's wish at 观音桥 (江北区); "wall": courier1's 渝中区 wish,
# verified and waiting on the wall for a 渝中区 volunteer.
ALLOWED = {
    ("GET /me", None): EVERYONE,
    ("POST /me/password", None): EVERYONE,  # one's own (sent without one: 422, no change)
    ("GET /processes", None): EVERYONE,
    ("GET /processes/{key}", None): EVERYONE,
    ("GET /stations", None): EVERYONE,
    ("GET /districts", None): EVERYONE,
    ("GET /notifications", None): EVERYONE,
    ("GET /tasks", None): EVERYONE,
    ("GET /instances", None): EVERYONE,
    ("POST /processes/{key}/instances", None): WORKERS,
    # Whom a retreat nomination may be made for: unit unions' administrators (代为推荐).
    ("GET /processes/{key}/applicants", None): {"unit_admin"},
    ("GET /instances/{id}", "yz"): CITY | {"yuzhong_admin", "unit_admin", "station_head",
                                           "rider1"},
    ("GET /instances/{id}", "jb"): CITY | {"jiangbei_admin", "driver1"},
    ("GET /instances/{id}", "wall"): CITY | {"yuzhong_admin", "unit_admin", "station_head",
                                             "courier1", "volunteer1", "branch_secretary"},
    ("POST /instances/{id}/comments", "yz"): COMMENT_ADMIN | {"station_head", "rider1"},
    ("POST /instances/{id}/comments", "jb"): COMMENT_ADMIN | {"driver1"},
    ("POST /instances/{id}/withdraw", "yz"): {"rider1"},
    ("POST /instances/{id}/withdraw", "jb"): {"driver1"},
    # Only the person the task is given to decides it or hands it on.
    ("POST /tasks/{id}/complete", "yz"): {"station_head"},
    ("POST /tasks/{id}/delegate", "yz"): {"station_head"},
    ("GET /tasks/{id}/delegates", "yz"): {"station_head"},
    ("POST /tasks/{id}/claim", "wall"): {"volunteer1", "branch_secretary"},
    # Pressing the holder (催办): administrators over the applicant's unit, not supervisors.
    ("POST /tasks/{id}/urge", "yz"): {"admin", "city_admin", "yuzhong_admin", "unit_admin"},
    ("POST /notifications/{id}/read", "yz"): {"rider1"},
    # rider1's wish photo: a public field's file, for whoever may open the wish.
    ("GET /files/{key}", "yz"): CITY | {"yuzhong_admin", "unit_admin", "station_head",
                                        "rider1"},
    # A wish has no certificate: refused to everyone, its applicant too.
    ("GET /instances/{id}/certificate.pdf", "yz"): frozenset(),
}


def _call(api: Api, who: str, route: str, obj: str | None, ctx: dict):
    method, path = route.split(" ", 1)
    inst = ctx.get(obj) if obj else None
    bodies = {"POST /instances/{id}/comments": {"text": ""},
              "POST /instances/{id}/withdraw": {"comment": 5},
              "POST /tasks/{id}/complete": {"action": "bogus"},
              "POST /tasks/{id}/delegate": {"to": ""},
              "POST /tasks/{id}/urge": {"comment": 5},
              "POST /me/password": {"password": ""},
              "POST /processes/{key}/instances": {"data": {}}}
    if path == "/files/{key}":
        target = "/files/" + ctx[obj + "_file"]
    elif "/tasks/{id}" in path:
        target = path.replace("{id}", str(ctx[obj + "_task"]))
    elif "/notifications/{id}" in path:
        target = path.replace("{id}", str(ctx["notification"]))
    else:
        key = "retreat_nomination" if path.endswith("/applicants") else "micro_wish"
        target = path.replace("{id}", str(inst)).replace("{key}", key)
    return api(method, target, who, json=bodies.get(route))


@pytest.fixture
def world(api, demo):
    def start(who, station, photo=False):
        data = {"data": wish(station=unit_by_code(station).id)}
        r = api("POST", "/processes/micro_wish/instances", who,
                data={"json": json.dumps(data), "photo": (io.BytesIO(PNG), "p.png")},
                content_type="multipart/form-data") if photo else api(
            "POST", "/processes/micro_wish/instances", who, json=data)
        assert r.status_code == 201, r.get_json()
        return r.get_json()["id"]

    ctx = {"yz": start("rider1", "st-jfb", photo=True), "jb": start("driver1", "st-gyq"),
           "wall": start("courier1", "st-jfb")}
    ctx["yz_file"] = db.session.scalar(select(StoredFile.key).where(
        StoredFile.instance_id == ctx["yz"]))
    verify = open_task_id(ctx["wall"])
    assert api("POST", f"/tasks/{verify}/complete", "station_head",
               json={"action": "approve"}).status_code == 200
    ctx["yz_task"], ctx["wall_task"] = open_task_id(ctx["yz"]), open_task_id(ctx["wall"])
    db.session.add(Notification(user_id=demo["rider1"].id, kind="comment", title_key="comment",
                                params={}, instance_id=ctx["yz"]))
    db.session.commit()
    ctx["notification"] = db.session.scalar(select(Notification.id).where(
        Notification.user_id == demo["rider1"].id).order_by(Notification.id.desc()))
    return ctx


@pytest.fixture
def api(client):
    return Api(client)


def test_every_role_on_every_route_own_and_other_unit(api, world):
    wrong = []
    for (route, obj), allowed in ALLOWED.items():
        # Claiming changes the task: everyone refused first, then those allowed.
        callers = sorted(EVERYONE, key=lambda who: (who in allowed, who))
        for who in callers:
            with _call(api, who, route, obj, world) as answer:  # a download holds a file
                assert answer.status_code < 500, (route, obj, who, answer.get_json())
                denied = answer.status_code in (401, 403, 404)
                if denied == (who in allowed):
                    said = (answer.get_json(silent=True) or {}).get("error", {})
                    wrong.append(f"{route} [{obj}] {who}: {answer.status_code} "
                                 f"{said.get('message')}")
    assert not wrong, "\n".join(wrong)


def test_lists_show_only_what_the_caller_may_see(api, world):
    for who in EVERYONE:
        staff = {i["id"] for i in api("GET", "/instances?mine=0&per_page=100", who)
                 .get_json()["items"]}
        for obj in ("yz", "jb", "wall"):
            may_open = who in ALLOWED[("GET /instances/{id}", obj)]
            assert (world[obj] in staff) == may_open, (who, obj)
        pool = {t["id"] for t in api("GET", "/tasks?scope=pool", who).get_json()["items"]}
        assert (world["wall_task"] in pool) == (who in {"volunteer1", "branch_secretary"}), who
        mine = {t["id"] for t in api("GET", "/tasks?scope=mine", who).get_json()["items"]}
        assert (world["yz_task"] in mine) == (who == "station_head"), who


def test_the_matrix_covers_every_route():
    import re

    from webapp.api.registry import ROUTES

    public = {"POST /tokens", "GET /openapi.json", "DELETE /tokens/current"}  # test_api
    declared = {f"{d.method.upper()} " + re.sub(r"<(?:int:)?(\w+)>",
                                                lambda m: "{key}" if m.group(1) == "key"
                                                else "{id}", d.rule) for d in ROUTES}
    assert declared == {route for route, _obj in ALLOWED} | public
