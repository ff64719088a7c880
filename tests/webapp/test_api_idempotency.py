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


def test_the_same_key_with_another_request_is_refused_not_replayed(api, demo):  # noqa: F811
    """A retry sends the same request; the same key with another body or another process
    is a client's mistake: 422 idempotency_key_reused, nothing started, nothing replayed."""
    assert _start(api, "rider1", KEY).status_code == 201
    before = _demands("rider1")
    other = _demand()
    other["data"]["category"] = "charging"
    for path, body in (("/processes/worker_demand/instances", other),
                       ("/processes/micro_wish/instances", {"data": {}})):
        r = api("POST", path, "rider1", json=body, headers={"Idempotency-Key": KEY})
        assert r.status_code == 422, (path, r.get_json())
        assert error_of(r)["code"] == "idempotency_key_reused"
        assert "Idempotent-Replayed" not in r.headers
    assert _demands("rider1") == before
    # The same request again is still a retry.
    assert _start(api, "rider1", KEY).headers.get("Idempotent-Replayed") == "true"


def test_a_retried_upload_is_the_same_request_and_another_file_is_not(api, demo):  # noqa: F811
    import io
    import json

    from tests.webapp.test_workflow_service import wish_data

    data = wish_data()
    data.pop("photo", None)

    def send(png: bytes):
        return api("POST", "/processes/micro_wish/instances", "courier1",
                   data={"json": json.dumps({"data": data}),
                         "photo": (io.BytesIO(png), "wish.png", "image/png")},
                   headers={"Idempotency-Key": KEY}, content_type="multipart/form-data")

    png = (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00\x00\x00\x01" * 2
           + b"\x08\x02\x00\x00\x00\x90wS\xde" + b"\x00\x00\x00\x00IEND\xaeB`\x82")
    first = send(png)
    assert first.status_code == 201, first.get_json()
    assert send(png).headers.get("Idempotent-Replayed") == "true"
    changed = send(png + b"\x00")
    assert changed.status_code == 422 and error_of(changed)["code"] == "idempotency_key_reused"
