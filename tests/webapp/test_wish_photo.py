"""A wish's photo (a `public: true` file field) shows on the wall to everyone signed in;
files are otherwise only for those who may see the request's personal data."""
from __future__ import annotations

import io
import re

from tests.webapp.test_pages import PNG, login, submit_wish, task_id_of, wish_form  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401


def test_the_photo_is_on_the_wall_while_the_wish_waits_there(login, demo):
    client = login("rider1")
    response = client.post("/processes/micro_wish/start", data={
        **wish_form(), "photo": (io.BytesIO(PNG), "头盔.png")}, content_type="multipart/form-data")
    assert response.status_code == 302
    instance_id = int(response.headers["Location"].rsplit("/", 1)[1])
    login("station_head").post(f"/tasks/{task_id_of(instance_id)}", data={"action": "approve"})

    stranger = login("driver1")  # another district: may not open the wish, sees its card
    wall = stranger.get("/wishes").get_data(as_text=True)
    key = re.search(r'<img class="card-img-top uf-wish-photo" src="/files/([0-9a-f]+)"', wall)
    assert key, "the wall shows the photo"
    assert stranger.get(f"/instances/{instance_id}").status_code == 404
    with stranger.get(f"/files/{key.group(1)}") as photo:
        assert photo.status_code == 200 and photo.data == PNG

    volunteer = login("volunteer1")
    volunteer.post(f"/tasks/{task_id_of(instance_id)}/claim")
    assert login("driver1").get(f"/files/{key.group(1)}").status_code == 404  # off the wall
    with login("volunteer1").get(f"/files/{key.group(1)}") as mine:
        assert mine.status_code == 200


def test_public_and_private_cannot_both_be_set():
    from workflows.loader import load_text

    text = """
key: t
name: T
start:
  who: {role: worker}
  form:
    - {name: photo, type: file, label: 照片, public: true, private: true}
steps:
  s: {kind: task, assignee: applicant, next: done}
ends: {done: completed}
"""
    _spec, problems = load_text(text, "t.yaml")
    assert any("public and private" in p.message for p in problems)
