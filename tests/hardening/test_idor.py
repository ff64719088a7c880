"""Guessing ids: a worker walking the id space for other people's requests, tasks, files,
certificates and exports, and a district administrator reaching into another district —
through the pages and the API.  Every guess is refused (403/404) and changes nothing; a
certificate opens only to its trainee and the administrators over the trainee's unit or
the course.

A marker word is planted in a 渝中区 request; no page, list or export (``?format=csv`` /
``xlsx``) of the whole app shown to a 江北区 person may contain it.
"""
from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import func, select

from tests.hardening.test_page_matrix import _fill, _rules, _start_wish, _token
from tests.webapp.test_pages import task_id_of, wish_form
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import (Attendance, Course, HistoryEntry, Instance, Pairing, RetreatBatch,
                           RetreatQuota, StoredFile, Task, TaskAssignee)
from webapp.services.org import unit_by_code

PASSWORD = "demo-pass-2026"
MARKER = "IDORMARK"
REFUSED = (403, 404)


def sign_in(client, who):
    client.post("/auth/logout")
    assert client.post("/auth/login", data={"username": who,
                                            "password": PASSWORD}).status_code == 302
    return client


def snapshot() -> tuple:
    """Everything a refused guess could have changed."""
    db.session.expire_all()
    return (db.session.scalar(select(func.count(HistoryEntry.id))),
            tuple(db.session.execute(select(Task.id, Task.status, Task.outcome)
                                     .order_by(Task.id))),
            db.session.scalar(select(func.count()).select_from(TaskAssignee)),
            tuple(db.session.execute(select(RetreatQuota.unit_id, RetreatQuota.amount)
                                     .order_by(RetreatQuota.id))),
            tuple(db.session.execute(select(Pairing.id, Pairing.ended_on).order_by(Pairing.id))),
            db.session.scalar(select(func.count(Attendance.id))),
            tuple(db.session.execute(select(Instance.id, Instance.status, Instance.lock_version)
                                     .order_by(Instance.id))))


@pytest.fixture
def world(client, demo):
    """rider1's 渝中区 wish (marked, with a photo), driver1's 江北区 wish."""
    sign_in(client, "rider1")
    import io as _io

    from tests.webapp.test_pages import PNG

    r = client.post("/processes/micro_wish/start", data={
        **wish_form(title=f"{MARKER}头盔", story=f"{MARKER} 电动车头盔摔坏了，想要一个新的"),
        "photo": (_io.BytesIO(PNG), "p.png")}, content_type="multipart/form-data")
    assert r.status_code == 302
    yz = int(r.headers["Location"].rsplit("/", 1)[1])
    sign_in(client, "driver1")
    jb = _start_wish(client, "st-gyq")
    client.post("/auth/logout")
    key = db.session.scalar(select(StoredFile.key).where(StoredFile.instance_id == yz))
    return {"yz": yz, "yz_task": task_id_of(yz), "yz_file": key, "jb": jb,
            "jb_task": task_id_of(jb)}


def test_a_worker_guessing_ids_reaches_nothing_of_anyone_else(client, world):
    sign_in(client, "driver1")
    token = _token(client, "driver1")
    bearer = {"Authorization": f"Bearer {token}"}
    before = snapshot()
    top = db.session.scalar(select(func.max(Instance.id))) + 3
    for n in range(1, top):
        if n == world["jb"]:
            continue
        for url in (f"/instances/{n}", f"/instances/{n}/diagram.svg",
                    f"/instances/{n}/certificate.pdf", f"/tasks/{n}"):
            assert client.get(url).status_code in REFUSED, url
        assert client.get(f"/api/v1/instances/{n}", headers=bearer).status_code == 404
        for url in (f"/tasks/{n}/claim", f"/tasks/{n}/unclaim", f"/instances/{n}/withdraw",
                    f"/instances/{n}/comments"):
            assert client.post(url, data={"text": "hi", "comment": "x"}).status_code in (
                *REFUSED, 302), url
        assert client.post(f"/tasks/{n}", data={"action": "approve"}).status_code in REFUSED
        for path, body in ((f"/tasks/{n}/complete", {"action": "approve"}),
                           (f"/tasks/{n}/claim", None), (f"/tasks/{n}/delegate", {"to": "driver1"}),
                           (f"/instances/{n}/withdraw", {}), (f"/instances/{n}/comments",
                                                             {"text": "hi"})):
            answer = client.post("/api/v1" + path, json=body, headers=bearer)
            assert answer.status_code in REFUSED, (path, answer.status_code)
    assert snapshot() == before
    # Files: another's key, made-up keys and keys that try to walk the folder.
    for key in (world["yz_file"], "0" * 32, world["yz_file"][:-1] + "0", "..%2f..%2fsecret_key",
                "%2e%2e", "secret_key"):
        with client.get(f"/files/{key}") as answer:
            assert answer.status_code == 404, key
    # Lists and the wall: nothing of the 渝中区 wish while it waits for its station head.
    for url in ("/requests", "/inbox", "/wishes", "/notices", "/notifications"):
        assert MARKER not in client.get(url).get_data(as_text=True), url
    listed = client.get("/api/v1/instances?mine=0&per_page=100", headers=bearer).get_json()
    assert world["yz"] not in {i["id"] for i in listed["items"]}


def test_a_district_administrator_cannot_reach_into_another_district(client, world):
    sign_in(client, "jiangbei_admin")
    token = _token(client, "jiangbei_admin")
    bearer = {"Authorization": f"Bearer {token}"}
    before = snapshot()
    yz, task = world["yz"], world["yz_task"]
    for url in (f"/instances/{yz}", f"/tasks/{task}", f"/instances/{yz}/diagram.svg"):
        assert client.get(url).status_code in REFUSED, url
    with client.get(f"/files/{world['yz_file']}") as answer:
        assert answer.status_code == 404
    assert client.get(f"/api/v1/instances/{yz}", headers=bearer).status_code == 404
    assert client.post(f"/tasks/{task}", data={"action": "reject", "comment": "x"}
                       ).status_code in REFUSED
    assert client.post(f"/admin/unassigned/{task}/reassign",
                       data={"username": "jiangbei_admin"}).status_code in REFUSED
    assert client.post(f"/api/v1/tasks/{task}/complete", json={"action": "approve"},
                       headers=bearer).status_code in REFUSED
    # Another district's station, branch, course and quota.
    station = unit_by_code("st-jfb")
    pairing = db.session.scalar(select(Pairing.id).where(Pairing.station_id == station.id))
    assert client.post(f"/stations/{station.id}/pairings/{pairing}/end").status_code in REFUSED
    assert client.post(f"/stations/{station.id}/slots", data={
        "starts_at": "2030-01-01T09:00", "ends_at": "2030-01-01T12:00", "capacity": "3"}
    ).status_code in REFUSED
    branch = unit_by_code("cq-yz-jfb-branch1")
    assert client.get(f"/reports/five-ones/{branch.id}").status_code in REFUSED
    course = db.session.scalar(select(Course.id).order_by(Course.id))
    assert client.get(f"/courses/{course}/attendance").status_code in REFUSED
    assert client.post(f"/courses/{course}/attendance", data={"present": "1-1"}
                       ).status_code in REFUSED
    batch = db.session.scalar(select(RetreatBatch.id))
    yz_unit = unit_by_code("cq-yz").id
    assert client.post(f"/retreat/quotas/{batch}/units/{yz_unit}",
                       data={f"u{yz_unit}-amount": "0"}).status_code in REFUSED
    assert client.post(f"/retreat/quotas/{batch}/units/{yz_unit}/return").status_code in REFUSED
    assert snapshot() == before


def test_certificates_are_read_only_by_their_trainee_and_the_administrators_over_them(
        client, demo):
    """A course of 渝中区 decided: rider1 and courier1 (渝中区) and driver1 (江北区)
    completed it.  Walking every id, through the pages and the API: each trainee gets
    their own certificate only; 江北区's administrator driver1's only (their district's
    trainee), 沙坪坝区's none; 渝中区's every one (their course).  Nothing changes."""
    from tests.webapp.test_training import decided_course

    course, ids = decided_course(lambda who: sign_in(client, who),
                                 {"rider1": 9, "courier1": 8, "driver1": 10})
    readers = {"rider1": {ids["rider1"]}, "driver1": {ids["driver1"]},
               "jiangbei_admin": {ids["driver1"]}, "shapingba_admin": set(),
               "yuzhong_admin": set(ids.values()), "unit_admin": set(ids.values())}
    top = db.session.scalar(select(func.max(Instance.id))) + 3
    before = snapshot()
    for who, theirs in readers.items():
        sign_in(client, who)
        bearer = {"Authorization": f"Bearer {_token(client, who)}"}
        for n in range(1, top):
            for url, headers in ((f"/instances/{n}/certificate.pdf", {}),
                                 (f"/api/v1/instances/{n}/certificate.pdf", bearer)):
                with client.get(url, headers=headers) as answer:
                    if n in theirs:
                        assert answer.status_code == 200, (who, url)
                        assert answer.data.startswith(b"%PDF"), (who, url)
                    else:
                        assert answer.status_code in REFUSED, (who, url, answer.status_code)
    assert snapshot() == before


def _text(body: bytes) -> str:
    """A page or an export as text (an .xlsx is a zip of XML files)."""
    if body[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(body)) as book:
            return "".join(book.read(name).decode("utf-8", "replace")
                           for name in book.namelist())
    return body.decode("utf-8", "replace")


@pytest.mark.parametrize("who", ["jiangbei_admin", "driver1"])
def test_no_page_list_or_export_shows_another_districts_request(app, client, world, who):
    sign_in(client, who)
    bearer = {"Authorization": f"Bearer {_token(client, who)}"}
    values = {"instance_id": world["jb"], "task_id": world["jb_task"], "key": "micro_wish",
              "number": 1}
    leaks, asked = [], 0
    for rule in _rules(app, "GET"):
        url, _scoped = _fill(app, rule, values)
        for suffix in ("", "?format=csv", "?format=xlsx", "?q=头盔", "?q=IDOR"):
            target = url + (suffix if "?" not in url else suffix.replace("?", "&"))
            headers = bearer if target.startswith("/api/") else {}
            with client.get(target, headers=headers) as answer:
                asked += 1
                if answer.status_code < 400 and MARKER in _text(answer.data):
                    leaks.append(target)
    assert asked > 100
    assert not leaks, leaks
    # The people it belongs to do see it, so the search above could have found it.
    sign_in(client, "yuzhong_admin")
    assert MARKER in client.get("/admin/instances?q=IDOR").get_data(as_text=True)
