"""Markup typed into any text field comes back as text on every page that shows it."""
from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.webapp.test_pages import alerts, errors, login, submit_wish, task_id_of  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Delivery, HistoryEntry, Task
from webapp.services.org import unit_by_code

PASSWORD = "demo-pass-2026"

PAYLOADS = ('<script>alert("x")</script>', '"><img src=x onerror=alert(1)>',
            "javascript:alert(1)//", "{{ 7*7 }}")


def test_payloads_in_a_wish_render_inert_everywhere(login, demo):
    rider = login("rider1")
    instance_id = submit_wish(rider, title=PAYLOADS[1][:40], story=PAYLOADS[0] + " 想要一个头盔",
                              contact_name=PAYLOADS[3])
    rider.post(f"/instances/{instance_id}/comments", data={"text": PAYLOADS[0] + PAYLOADS[2]})
    pages = [rider.get(f"/instances/{instance_id}"), rider.get("/requests")]
    head = login("station_head")
    pages += [head.get("/inbox"), head.get(f"/tasks/{task_id_of(instance_id)}")]
    head.post(f"/tasks/{task_id_of(instance_id)}", data={"action": "approve",
                                                        "comment": PAYLOADS[1]})
    volunteer = login("volunteer1")
    pages += [volunteer.get("/wishes"), volunteer.get(f"/instances/{instance_id}"),
              login("yuzhong_admin").get("/admin/instances?q=img")]
    for page in pages:
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, page.request.path
    # Template syntax is text too: never evaluated.
    assert "{{ 7*7 }}" in rider.get(f"/instances/{instance_id}").get_data(as_text=True)
    shown = volunteer.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in shown or \
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in shown


# --- delegation and reassignment comments ------------------------------------------------

RAW = re.compile(r"<script>alert|<img src=x onerror", re.I)
ESCAPED = ("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;",
           "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;")
# Several lines, one a would-be mail header: a comment can come from the API or a crafted post.
REASSIGN_NOTE = PAYLOADS[0] + " 改派说明\r\nBcc: uf-xss@example.com\r\n" + PAYLOADS[1]
DELEGATE_NOTE = PAYLOADS[1] + " 转办说明\nSet-Cookie: a=b\n" + PAYLOADS[0] + PAYLOADS[3]


@pytest.fixture
def app_config(app_config, tmp_path):
    return {**app_config, "MAIL_BACKEND": "file", "MAIL_OUTBOX": str(tmp_path / "outbox")}


def inert(response, where: str) -> str:
    assert response.status_code == 200, (where, response.status_code)
    html = response.get_data(as_text=True)
    found = RAW.search(html)
    assert not found, (where, html[max(0, found.start() - 80):][:200])
    return html


def sent_mail(app) -> list[email.message.EmailMessage]:
    """Every e-mail planned so far, sent to the file outbox (digests too) and read back."""
    from webapp.services import outbox

    later = datetime.now(timezone.utc) + timedelta(days=2)
    outbox.send_digests(later)
    db.session.expire_all()
    ids = list(db.session.scalars(select(Delivery.id).where(Delivery.channel == "email")))
    assert not outbox.deliver(ids, now=later)
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(Path(app.config["MAIL_OUTBOX"]).glob("*.eml"))]


def test_delegation_and_reassignment_comments_render_inert(app, login, demo, make_user):
    """A wish at a station that has no head waits for an administrator: reassigned with a
    note to a new head, who hands it on to a deputy with a note.  Both notes, markup and
    several lines, are text on every page that shows them; the mails stay well-formed."""
    station = unit_by_code("st-gyq")  # no station head in the demo: nobody holds the task
    instance_id = submit_wish(login("courier1"), station=str(station.id))
    task_id = task_id_of(instance_id)
    assert db.session.get(Task, task_id).assignees == []
    for name in ("gyq_head", "gyq_deputy"):
        person = make_user(name, ("station_head", station), unit=station, password=PASSWORD,
                           name=name)
        person.email = f"{name}@example.com"
    db.session.commit()
    admin = login("yuzhong_admin")
    assert f"/admin/unassigned/{task_id}/reassign" in inert(admin.get("/admin/unassigned"),
                                                           "unassigned")
    done = admin.post(f"/admin/unassigned/{task_id}/reassign",
                      data={"username": "gyq_head", "comment": REASSIGN_NOTE})
    assert done.status_code == 302, errors(done) + alerts(done)
    inert(admin.get(done.headers["Location"]), "unassigned after")
    head = login("gyq_head")
    for path in ("/inbox", f"/tasks/{task_id}", "/notifications", "/"):
        inert(head.get(path), f"head {path}")
    handed = head.post(f"/tasks/{task_id}/delegate",
                       data={"username": "gyq_deputy", "comment": DELEGATE_NOTE})
    assert handed.status_code == 302, errors(handed) + alerts(handed)
    # No longer theirs to open: the confirmation is shown on the inbox, not lost on a 404.
    after = head.get(handed.headers["Location"])
    inert(after, "after delegation")
    assert any("已转办给 gyq_deputy" in a for a in alerts(after)), alerts(after)
    db.session.expire_all()
    entries = db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.instance_id == instance_id,
        HistoryEntry.action.in_(("reassign", "delegate")))).all()
    assert {e.action: e.comment for e in entries} == {"reassign": REASSIGN_NOTE.strip(),
                                                      "delegate": DELEGATE_NOTE.strip()}
    deputy = login("gyq_deputy")
    for path in ("/inbox", f"/tasks/{task_id}", "/notifications", "/"):
        inert(deputy.get(path), f"deputy {path}")
    for who in ("courier1", "gyq_deputy", "yuzhong_admin", "city_admin", "admin"):
        html = inert(login(who).get(f"/instances/{instance_id}"), f"{who} instance")
        # Both notes shown, as text: the checks above looked at them.
        assert html.count("改派说明") == 1 and html.count("转办说明") == 1, who
        assert any(e in html for e in ESCAPED) and "{{ 7*7 }}" in html, who
    audit = inert(login("admin").get("/admin/audit"), "audit")
    assert "改派说明" in audit and "转办说明" in audit
    for fmt in ("csv", "xlsx"):
        assert login("admin").get(f"/admin/audit?format={fmt}").status_code == 200
    # The API gives the notes back as JSON strings.
    client = login("courier1")
    token = client.post("/api/v1/tokens", json={"username": "courier1",
                                                "password": PASSWORD}).get_json()["token"]
    answer = client.get(f"/api/v1/instances/{instance_id}",
                        headers={"Authorization": f"Bearer {token}"})
    assert answer.mimetype == "application/json"
    said = {h["action"]: h["comment"] for h in answer.get_json()["history"]}
    assert said["reassign"] == REASSIGN_NOTE.strip() and said["delegate"] == DELEGATE_NOTE.strip()
    # The new holders were told by mail: one-line subjects, nothing smuggled into headers.
    mails = sent_mail(app)
    told = {str(m["To"]) for m in mails}
    assert {"gyq_head@example.com", "gyq_deputy@example.com"} <= told, told
    for message in mails:
        assert "\n" not in str(message["Subject"]) and message["Bcc"] is None
        assert message["Set-Cookie"] is None
        assert all(part.get_content_type() in ("text/plain", "multipart/mixed")
                   for part in message.walk())


# --- notification titles -------------------------------------------------------------------

def test_a_long_comment_makes_a_short_one_line_notification_title(app, login, demo):
    """A return reason or a remark can run to 2,000 characters over many lines: the
    notification's title (page and API, both languages) is one short line ending in "…";
    the request's page and the e-mail's text keep all of it."""
    from webapp.notifications import TITLE_MAX

    instance_id = submit_wish(login("rider1"))
    reason = "请补充头盔尺码。\r\n" + "详细说明" * 200 + "\n" + PAYLOADS[0]
    head = login("station_head")
    head.post(f"/tasks/{task_id_of(instance_id)}", data={"action": "return", "comment": reason})
    remark = "留言第一行\u202e\n\n" + "补充" * 500
    assert head.post(f"/instances/{instance_id}/comments",
                     data={"text": remark}).status_code == 302
    rider = login("rider1")
    token = rider.post("/api/v1/tokens", json={"username": "rider1",
                                               "password": PASSWORD}).get_json()["token"]
    for locale, returned in (("zh_CN", "您的微心愿被退回修改：请补充头盔尺码。 详细说明"),
                             ("en", "Your Micro-wish was returned for changes: 请补充头盔尺码。")):
        rider.post("/auth/locale", data={"locale": locale})
        page = inert(rider.get("/notifications"), locale)
        assert returned in page and "详细说明" * 40 not in page and "补充" * 60 not in page
        titles = {n["kind"]: n["title"] for n in rider.get(
            "/api/v1/notifications", headers={"Authorization": f"Bearer {token}"},
        ).get_json()["items"]}
        for kind in ("returned", "comment"):
            title = titles[kind]
            assert len(title) <= TITLE_MAX and title.endswith("…"), title
            assert not set(title) & set("\r\n\u202e"), title
            assert title in page.replace("&lt;", "<").replace("&gt;", ">"), title
        assert titles["returned"].startswith(returned), titles
        assert "留言第一行 补充" in titles["comment"], titles
    # The request's page keeps the whole of both.
    html = rider.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "详细说明" * 200 in html and "补充" * 500 in html
    # The mail's subject is one short line; its text has the whole reason.
    rider1 = [m for m in sent_mail(app) if str(m["To"]) == "rider1@demo.unionflow.cn"]
    assert rider1
    assert any("详细说明" * 200 in m.get_body(("plain",)).get_content() for m in rider1)
