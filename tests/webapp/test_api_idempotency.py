"""An app that lost the answer to a start sends it again: with the same Idempotency-Key
it is answered the request it started the first time, and nothing new is started."""
from __future__ import annotations

from sqlalchemy import func, select

from tests.webapp.test_api import Api, api, error_of  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Instance
from webapp.services.org import unit_by_code
from webapp.services.users import find_user

KEY = "retry-after-a-lost-answer-01"


def _demand():
    return {"data": {"category": "parking", "station": unit_by_code("st-jfb").id,
                     "description": "晚上送单没有地方停车，电动车只能停在路边",
                     "phone": "13900139000"}}


def _demands(username: str) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Instance).where(
        Instance.process_key == "worker_demand", Instance.applicant_id == find_user(username).id))


def _start(api, who, key=None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return api("POST", "/processes/worker_demand/instances", who, json=_demand(),
               headers=headers)


def test_a_start_sent_again_with_its_key_answers_the_first_request(api, demo):  # noqa: F811
    before = _demands("rider1")
    first = _start(api, "rider1", KEY)
    assert first.status_code == 201, first.get_json()
    again = _start(api, "rider1", KEY)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert _demands("rider1") == before + 1
    # Without a key (or with another) each start is its own.
    assert _start(api, "rider1").status_code == 201
    assert _start(api, "rider1", KEY + "-b").status_code == 201
    assert _demands("rider1") == before + 3


def test_one_callers_key_is_not_anothers(api, demo):  # noqa: F811
    assert _start(api, "rider1", KEY).status_code == 201
    other = _start(api, "courier1", KEY)
    assert other.status_code == 201 and "Idempotent-Replayed" not in other.headers


def test_a_malformed_key_is_refused_before_anything_is_started(api, demo):  # noqa: F811
    before = _demands("rider1")
    for bad in ("short", "has spaces in it ok?", "x" * 65, "中文的键中文的键中文的键中文的键"):
        r = _start(api, "rider1", bad)
        assert r.status_code == 400, bad
        assert error_of(r)["code"] == "bad_idempotency_key" and "Idempotency-Key" in \
            error_of(r)["message"]
    assert _demands("rider1") == before


def test_the_key_is_in_the_openapi_document(api, demo):  # noqa: F811
    doc = api("GET", "/openapi.json").get_json()
    start = doc["paths"]["/api/v1/processes/worker_demand/instances"]["post"]
    header = next(p for p in start["parameters"] if p["name"] == "Idempotency-Key")
    assert header["in"] == "header" and header["schema"]["pattern"]
    assert "200" in start["responses"] and "201" in start["responses"]
