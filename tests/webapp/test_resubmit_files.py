"""A request returned for correction and sent back keeps the files it has: left out (or,
through the API, named by their records) they stay, a required one too; a new file
replaces them, ``null`` removes them, and a record naming any other file is refused."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from tests.webapp.test_api import api, error_of, open_task_id, wish  # noqa: F401
from tests.webapp.test_pages import PNG, alerts, errors, login, task_id_of, wish_form  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Instance, StoredFile
from webapp.services import workflow as wf

GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00" \
      b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


def multipart(body: dict, **parts) -> dict:
    return {"data": {"json": json.dumps(body), **{name: (io.BytesIO(content), filename)
                                                  for name, (content, filename) in parts.items()}},
            "content_type": "multipart/form-data"}


def returned_wish(api, who="rider1") -> tuple[int, dict]:
    """A wish with a photo, returned by the station head: its id and its photo record."""
    r = api("POST", "/processes/micro_wish/instances", who,
            **multipart({"data": wish()}, photo=(PNG, "头盔.png")))
    assert r.status_code == 201, r.get_json()
    wish_id = r.get_json()["id"]
    assert api("POST", f"/tasks/{open_task_id(wish_id)}/complete", "station_head",
               json={"action": "return", "comment": "请写清楚尺码"}).status_code == 200
    return wish_id, r.get_json()["data"]["photo"]


def resubmit(api, wish_id: int, data: dict | None = None, who="rider1", **parts):
    body = {"action": "resubmit", **({"data": data} if data is not None else {})}
    task = open_task_id(wish_id)
    if parts:
        return api("POST", f"/tasks/{task}/complete", who, **multipart(body, **parts))
    return api("POST", f"/tasks/{task}/complete", who, json=body)


def photo_of(wish_id: int):
    db.session.expire_all()
    return db.session.get(Instance, wish_id).state["data"].get("photo")


@pytest.fixture
def required_photo(demo):
    """micro_wish as a definition whose start form requires the photo."""
    path = next(p for p in wf.shipped_definitions() if p.name == "micro_wish.yaml")
    text = path.read_text(encoding="utf-8")
    changed = text.replace("type: file, label: 心愿照片", "type: file, required: true, label: 心愿照片")
    assert changed != text and wf.publish_text(changed, "micro_wish.yaml").created
    db.session.commit()


@pytest.mark.parametrize("sent", ["left out", "as its record", "as its key alone"])
def test_the_photo_stays_when_left_out_or_sent_as_its_record(api, demo, sent):
    wish_id, photo = returned_wish(api)
    data = wish(title="一个 L 号的新头盔")
    if sent == "as its record":
        data["photo"] = photo  # as the answer showed it, url and all
    elif sent == "as its key alone":
        data["photo"] = {"key": photo["key"]}
    answer = resubmit(api, wish_id, data)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["state"] == "verify" and body["data"]["title"] == "一个 L 号的新头盔"
    assert body["data"]["photo"] == photo
    assert photo_of(wish_id) == {k: v for k, v in photo.items() if k != "url"}


def test_a_required_photo_can_be_sent_back_unchanged(api, required_photo):
    wish_id, photo = returned_wish(api)
    assert resubmit(api, wish_id, wish(title="L 号头盔")).status_code == 200
    assert photo_of(wish_id)["key"] == photo["key"]
    # Removing it is what the form refuses, as it would at the start.
    assert api("POST", f"/tasks/{open_task_id(wish_id)}/complete", "station_head",
               json={"action": "return", "comment": "再看看"}).status_code == 200
    removed = resubmit(api, wish_id, wish(photo=None))
    assert removed.status_code == 422 and "photo" in error_of(removed)["fields"]
    assert photo_of(wish_id)["key"] == photo["key"]


def test_null_removes_the_photo_and_a_new_one_replaces_it(api, demo):
    wish_id, photo = returned_wish(api)
    assert resubmit(api, wish_id, wish(photo=None)).status_code == 200
    assert photo_of(wish_id) is None

    other_id, photo = returned_wish(api, "courier1")
    answer = resubmit(api, other_id, wish(), who="courier1", photo=(GIF, "new.gif"))
    assert answer.status_code == 200, answer.get_json()
    new = photo_of(other_id)
    assert new["key"] != photo["key"] and new["mime"] == "image/gif"
    assert db.session.scalar(select(StoredFile.instance_id).where(
        StoredFile.key == new["key"])) == other_id


def test_a_record_of_any_other_file_is_refused(api, demo):
    wish_id, photo = returned_wish(api)
    _other_id, others = returned_wish(api, "courier1")
    for record in (others, {**photo, "key": "0" * 32}, {"name": "头盔.png"}, "头盔.png",
                   [photo, others]):
        answer = resubmit(api, wish_id, wish(title="换了标题", photo=record))
        assert answer.status_code == 422, (record, answer.get_json())
        assert set(error_of(answer)["fields"]) == {"photo"}, record
    # Refused together with the form's own findings, and nothing changed.
    both = resubmit(api, wish_id, wish(title="", photo=others))
    assert set(error_of(both)["fields"]) == {"title", "photo"}
    assert photo_of(wish_id) == {k: v for k, v in photo.items() if k != "url"}
    assert db.session.get(Instance, wish_id).state["data"]["title"] == "一个新头盔"
    # Keeping a file and uploading a new one for the same field: say which.
    twice = resubmit(api, wish_id, wish(photo=photo), photo=(GIF, "new.gif"))
    assert twice.status_code == 422 and set(error_of(twice)["fields"]) == {"photo"}


def test_the_web_form_keeps_the_photo_when_none_is_chosen(login, required_photo):
    client = login("rider1")
    started = client.post("/processes/micro_wish/start", data={
        **wish_form(), "photo": (io.BytesIO(PNG), "头盔.png")}, content_type="multipart/form-data")
    assert started.status_code == 302
    wish_id = int(started.headers["Location"].rsplit("/", 1)[1])
    key = photo_of(wish_id)["key"]
    login("station_head").post(f"/tasks/{task_id_of(wish_id)}",
                               data={"action": "return", "comment": "请写清楚尺码"})
    client = login("rider1")
    revise = task_id_of(wish_id)
    page = client.get(f"/tasks/{revise}").get_data(as_text=True)
    assert "已有文件：头盔.png。不选新文件则保留。" in page
    client.post("/auth/locale", data={"locale": "en"})
    english = client.get(f"/tasks/{revise}").get_data(as_text=True)
    assert "Files it has: 头盔.png. They stay unless you choose new ones." in english
    client.post("/auth/locale", data={"locale": "zh_CN"})
    sent = client.post(f"/tasks/{revise}", data={**wish_form(title="L 号头盔"),
                                                  "action": "resubmit"},
                       content_type="multipart/form-data")
    assert sent.status_code == 302, alerts(sent) + errors(sent)
    assert photo_of(wish_id)["key"] == key
    db.session.expire_all()
    assert db.session.get(Instance, wish_id).state["data"]["title"] == "L 号头盔"
