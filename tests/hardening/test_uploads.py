"""Uploads through the real pages: disguised and polyglot files, sizes beyond every limit,
file names that try to escape the upload folder, and how stored files are served."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from tests.webapp.test_pages import PNG, errors, login  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Instance, StoredFile
from webapp.services.org import unit_by_code
from webapp.services.uploads import path_of, upload_root

DEFINITIONS = Path(__file__).resolve().parents[2] / "workflows" / "definitions"
GIF_POLYGLOT = b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;<script>alert(1)</script><html>"
DISGUISED = {
    "page.png": b"<!doctype html><html><script>alert(1)</script></html>",
    "drawing.jpg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "setup.png": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64,
    "script.gif": b"#!/bin/sh\nrm -rf /\n",
    "photo.png.html": PNG,  # a real picture under a name that says web page
    "report.pdf": PNG,  # a picture claiming to be a PDF
}


def post(client, path: str, data: dict, headers=None):
    """A multipart post whose body is plain bytes (the test client would spool a big one
    to a temporary file it never closes)."""
    from werkzeug.datastructures import MultiDict
    from werkzeug.test import encode_multipart

    fields = MultiDict()
    for name, value in data.items():
        for item in (value if isinstance(value, list) else [value]):
            fields.add(name, item)
    files = MultiDict()
    for name, (stream, filename) in [(n, v) for n, v in fields.items(multi=True)
                                     if isinstance(v, tuple)]:
        from werkzeug.datastructures import FileStorage

        files.add(name, FileStorage(stream, filename=filename))
    plain = MultiDict([(n, v) for n, v in fields.items(multi=True) if not isinstance(v, tuple)])
    plain.update(files)
    boundary, body = encode_multipart(plain)
    return client.post(path, data=body, headers=headers or {},
                       content_type=f"multipart/form-data; boundary={boundary}")


def demand(**files) -> dict:
    data = {"category": "parking", "station": str(unit_by_code("st-jfb").id),
            "location": "解放碑", "phone": "13800138000",
            "description": "送餐高峰期电动车没有地方停，希望增加临时停车位。"}
    data["photo"] = [(io.BytesIO(content), name) for name, content in files.items()]
    return data


def counts() -> tuple[int, int]:
    db.session.expire_all()
    return (db.session.scalar(select(func.count(StoredFile.key))),
            db.session.scalar(select(func.count(Instance.id))))


def files_on_disk() -> list[Path]:
    return [p for p in upload_root().rglob("*") if p.is_file()]


def test_a_file_that_is_not_what_it_claims_is_refused_and_nothing_is_kept(login, demo):
    client = login("rider1")
    before = counts()
    for name, content in DISGUISED.items():
        response = post(client, "/processes/worker_demand/start", demand(**{name: content}))
        assert response.status_code == 422, name
        assert errors(response), name
    assert counts() == before and files_on_disk() == []


def test_a_polyglot_picture_is_served_as_a_picture_that_runs_nothing(login, demo):
    client = login("rider1")
    response = post(client, "/processes/worker_demand/start", demand(**{"x.gif": GIF_POLYGLOT}))
    assert response.status_code == 302
    stored = db.session.scalars(select(StoredFile)).one()
    assert stored.mime == "image/gif"
    with client.get(f"/files/{stored.key}") as served:
        assert served.status_code == 200
        assert served.mimetype == "image/gif"
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in served.headers["Content-Security-Policy"]


SERVED = {"image/png": True, "application/pdf": False, "image/heic": False,
          "image/svg+xml": False, "text/html": False, "application/javascript": False}


def test_stored_files_are_never_served_as_something_a_browser_runs(login, demo):
    """Even a row that somehow says text/html or SVG is handed out as opaque bytes."""
    client = login("rider1")
    for n, (mime, inline) in enumerate(SERVED.items()):
        stored = StoredFile(key=f"ab{n:030d}", name="x.bin", mime=mime, size=3,
                            sha256="0" * 64, uploaded_by_id=demo["rider1"].id)
        path_of(stored).parent.mkdir(parents=True, exist_ok=True)
        path_of(stored).write_bytes(b"<script>alert(1)</script>")
        db.session.add(stored)
        db.session.commit()
        with client.get(f"/files/{stored.key}") as served:
            assert served.status_code == 200
            assert served.mimetype not in ("text/html", "image/svg+xml",
                                           "application/javascript"), mime
            disposition = served.headers["Content-Disposition"]
            assert disposition.startswith("inline" if inline else "attachment"), mime
            assert served.headers["X-Content-Type-Options"] == "nosniff"
            assert "sandbox" in served.headers["Content-Security-Policy"]


NAMES = ["../../../etc/passwd.png", "/etc/cron.d/evil.png", "C:\\Windows\\system32\\a.png",
         "..\\..\\boot.png", "a\x00b.png", "x" * 600 + ".png", "头盔 照片😀‮gnp.exe.png",
         ".htaccess.png", "....png", "%2e%2e%2fescape.png", "con.png"]


def test_file_names_never_escape_the_upload_folder(login, demo):
    client = login("rider1")
    for name in NAMES:
        response = post(client, "/processes/worker_demand/start", demand(**{name: PNG}))
        assert response.status_code in (302, 422), (name, response.status_code)
    assert db.session.scalar(select(func.count(StoredFile.key))) >= len(NAMES) - 2
    root = upload_root().resolve()
    for path in files_on_disk():
        assert root in path.resolve().parents
        assert re.fullmatch(r"[0-9a-f]{32}", path.name)
    for stored in db.session.scalars(select(StoredFile)):
        assert not set(stored.name) & set("/\\\x00\u202e") and len(stored.name) <= 100
        assert not stored.name.startswith(".") and stored.name.endswith(".png")
        with client.get(f"/files/{stored.key}") as served:
            assert served.data == PNG
            assert "/" not in served.headers["Content-Disposition"].split("filename", 1)[1]


def test_a_file_beyond_its_fields_limit_is_explained_and_nothing_is_kept(login, demo):
    client = login("rider1")
    big = PNG + b"\x00" * (10 * 1024 * 1024)  # the field takes 10 MB
    before = counts()
    response = post(client, "/processes/worker_demand/start", demand(**{"big.png": big}))
    assert response.status_code == 422
    assert any("MB" in e for e in errors(response)), errors(response)
    assert counts() == before and files_on_disk() == []


@pytest.mark.parametrize("path", ["/processes/worker_demand/start", "/api/v1/processes/worker_demand/instances"])
def test_a_request_beyond_the_app_limit_is_a_clear_413(app, login, demo, path):
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    client = login("rider1")
    headers = {}
    if path.startswith("/api/"):
        token = client.post("/api/v1/tokens", json={"username": "rider1",
                                                    "password": "demo-pass-2026"})
        headers["Authorization"] = "Bearer " + token.get_json()["token"]
    before = counts()
    response = post(client, path, demand(**{"big.png": PNG + b"\x00" * 300 * 1024}), headers)
    assert response.status_code == 413
    if path.startswith("/api/"):
        assert response.get_json()["error"]["code"] == "too_large"
    else:
        page = response.get_data(as_text=True)
        assert "上传的内容太大" in page and "Traceback" not in page
    assert counts() == before and files_on_disk() == []


def test_the_app_wide_limit_is_set_and_fits_every_shipped_form(app):
    from webapp.config import Config
    from forms.uploads import DEFAULT_MAX_SIZE

    def size(text) -> int:
        number, unit = re.fullmatch(r"(\d+)\s*([KM]B)", str(text)).groups()
        return int(number) * (1024 if unit == "KB" else 1024 * 1024)

    def forms(node):
        if isinstance(node, dict):
            if isinstance(node.get("form"), list):
                yield node["form"]
            for value in node.values():
                yield from forms(value)
        elif isinstance(node, list):
            for value in node:
                yield from forms(value)

    largest = 0
    for path in DEFINITIONS.glob("*.yaml"):
        for fields in forms(yaml.safe_load(path.read_text(encoding="utf-8"))):
            largest = max(largest, sum(
                size(f.get("max_size", f"{DEFAULT_MAX_SIZE // 1024 // 1024}MB"))
                * int(f.get("max_files", 1)) for f in fields if f.get("type") == "file"))
    assert Config.MAX_CONTENT_LENGTH and largest > 0
    assert largest < Config.MAX_CONTENT_LENGTH <= largest + 16 * 1024 * 1024


def test_a_refused_start_keeps_none_of_its_files(client, demo):
    """A start the engine refuses (one open wish at a time: 409) after its photo was
    written leaves no file behind — a client retrying in a loop cannot fill the disk;
    an accepted one keeps its file."""
    import json

    from tests.webapp.test_api import Api
    from tests.webapp.test_workflow_service import wish_data

    api = Api(client)
    data = {k: v for k, v in wish_data().items() if k != "photo"}

    def start():
        return api("POST", "/processes/micro_wish/instances", "rider1",
                   data={"json": json.dumps({"data": data}),
                         "photo": (io.BytesIO(PNG), "wish.png", "image/png")},
                   content_type="multipart/form-data")

    assert start().status_code == 201
    kept = files_on_disk()
    assert len(kept) == 1
    before = counts()
    for _ in range(3):
        refused = start()
        assert refused.status_code == 409, refused.get_json()
    assert counts() == before and files_on_disk() == kept
