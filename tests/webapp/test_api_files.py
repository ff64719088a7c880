"""Downloads through the API: the files an instance's data names (each record with its
``url``) and a trainee's certificate — the pages' access rules and headers, the bearer
token's person, the API's 404 for whoever may not have them."""
from __future__ import annotations

import io
import json

from sqlalchemy import select

from tests.webapp.test_api import Api, api, error_of, open_task_id, wish  # noqa: F401
from tests.webapp.test_pages import PNG, login  # noqa: F401
from tests.webapp.test_training import (course_named, decide, end_the_course,
                                        move_into_the_past, register)
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import StoredFile
from workflows.fields import FieldSpec


def start_with_photo(api, who="rider1") -> dict:
    r = api("POST", "/processes/micro_wish/instances", who,
            data={"json": json.dumps({"data": wish()}), "photo": (io.BytesIO(PNG), "头盔.png")},
            content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_a_wish_photo_has_its_url_and_downloads_with_the_pages_headers(api, demo):
    started = start_with_photo(api)
    photo = started["data"]["photo"]
    key = db.session.scalar(select(StoredFile.key).where(StoredFile.instance_id == started["id"]))
    assert photo["key"] == key and photo["url"] == f"/api/v1/files/{key}"
    assert api("GET", f"/instances/{started['id']}", "rider1").get_json()["data"]["photo"] == photo

    with api("GET", f"/files/{key}", "rider1") as answer:
        assert answer.status_code == 200 and answer.data == PNG
        assert answer.mimetype == "image/png"
        assert answer.headers["Content-Disposition"].startswith("inline; ")
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in answer.headers["Cache-Control"]
        assert answer.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_a_file_is_refused_as_the_page_refuses_it(api, login, demo):
    started = start_with_photo(api)
    url = started["data"]["photo"]["url"][len("/api/v1"):]
    # Another district's worker may not see the wish before it is on the wall: 404.
    hidden = api("GET", url, "driver1")
    assert hidden.status_code == 404 and error_of(hidden)["code"] == "not_found"
    assert login("driver1").get("/files/" + url.rsplit("/", 1)[1]).status_code == 404
    # On the wall, a wish's photo is everyone's, as on the wall page.
    verify = open_task_id(started["id"])
    assert api("POST", f"/tasks/{verify}/complete", "station_head",
               json={"action": "approve"}).status_code == 200
    with api("GET", url, "driver1") as shown:
        assert shown.status_code == 200 and shown.data == PNG
    for made_up in ("/files/" + "0" * 32, "/files/..%2f..%2fsecret_key", "/files/x"):
        assert error_of(api("GET", made_up, "rider1"))["code"] == "not_found", made_up


def test_only_a_bearer_token_opens_a_file(api, login, demo):
    url = start_with_photo(api)["data"]["photo"]["url"]
    client = login("rider1")  # a browser's session cookie is not the API's sign-in
    answer = client.get(url)
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"
    assert error_of(answer)["code"] == "unauthorized"


def test_a_proof_is_for_those_who_may_see_personal_data(api, demo):
    wish_id = start_with_photo(api)["id"]
    api("POST", f"/tasks/{open_task_id(wish_id)}/complete", "station_head",
        json={"action": "approve"})
    api("POST", f"/tasks/{open_task_id(wish_id)}/claim", "volunteer1")
    done = api("POST", f"/tasks/{open_task_id(wish_id)}/complete", "volunteer1",
               data={"json": json.dumps({"action": "complete", "data": {}}),
                     "proof": [(io.BytesIO(PNG), "a.png"), (io.BytesIO(PNG), "b.png")]},
               content_type="multipart/form-data")
    assert done.status_code == 200, done.get_json()
    proofs = done.get_json()["data"]["proof"]
    assert [p["name"] for p in proofs] == ["a.png", "b.png"]
    assert all(p["url"] == f"/api/v1/files/{p['key']}" for p in proofs)
    for who in ("rider1", "volunteer1"):
        with api("GET", proofs[1]["url"][len("/api/v1"):], who) as answer:
            assert answer.status_code == 200 and answer.data == PNG, who
    for who in ("volunteer2", "driver1"):
        assert api("GET", proofs[1]["url"][len("/api/v1"):], who).status_code == 404, who


def test_a_file_that_is_not_public_is_hidden_where_personal_data_is(app):
    """As the page shows it (***): a masked viewer gets neither its name nor its key."""
    from webapp.api.present import with_file_urls

    record = {"key": "ab" * 16, "name": "身份证.png", "mime": "image/png", "size": 3,
              "sha256": "0" * 64}
    fields = [FieldSpec(name="proof", type="file", label="凭证", max_files=3),
              FieldSpec(name="photo", type="file", label="照片", public=True)]
    data = {"proof": [record], "photo": record}
    with app.test_request_context():
        masked = with_file_urls(fields, data, may_see=False)
        shown = with_file_urls(fields, data, may_see=True)
    assert masked["proof"] is None and masked["photo"]["url"] == f"/api/v1/files/{'ab' * 16}"
    assert shown["proof"] == [{**record, "url": f"/api/v1/files/{'ab' * 16}"}]
    assert "url" not in record  # the instance's own data is left as it was


def test_the_certificate_is_the_trainees_and_their_administrators_only(api, login, demo):
    course = course_named("电工技能提升班")
    passed, failed = register(login, "rider1", course), register(login, "courier1", course)
    move_into_the_past(course)
    end_the_course()
    decide(login("unit_admin"), course, {passed: 9, failed: 2})

    with api("GET", f"/instances/{passed}/certificate.pdf", "rider1") as answer:
        assert answer.status_code == 200 and answer.mimetype == "application/pdf"
        assert answer.data.startswith(b"%PDF")
        number = f"PX{course.starts_on:%Y}{course.id:04d}{passed:06d}"
        assert answer.headers["Content-Disposition"] == (
            f'attachment; filename="certificate-{number}.pdf"; '
            f"filename*=UTF-8''certificate-{number}.pdf")
        assert "no-store" in answer.headers["Cache-Control"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    # The course's administrator reads it too; another district's does not.
    with api("GET", f"/instances/{passed}/certificate.pdf", "unit_admin") as answer:
        assert answer.status_code == 200 and answer.data.startswith(b"%PDF")
    for who, instance_id in (("courier1", failed), ("courier1", passed),
                             ("jiangbei_admin", passed), ("unit_admin", failed),
                             ("rider1", 999999)):
        refused = api("GET", f"/instances/{instance_id}/certificate.pdf", who)
        assert refused.status_code == 404 and error_of(refused)["code"] == "not_found", who
    assert api("GET", f"/instances/{passed}/certificate.pdf").status_code == 401


def test_downloads_are_in_the_document_as_bytes(client, demo):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    certificate = paths["/api/v1/instances/{instance_id}/certificate.pdf"]["get"]
    assert certificate["responses"]["200"]["content"] == {
        "application/pdf": {"schema": {"type": "string", "format": "binary"}}}
    download = paths["/api/v1/files/{key}"]["get"]["responses"]
    assert {"image/png", "application/pdf", "application/octet-stream"} <= set(
        download["200"]["content"])
    assert download["404"]["content"]["application/json"]
