"""Every form on every page, as each kind of person, submitted with markup in each text
field: the answer (a page with errors, or the page a redirect leads to with its flash
message) shows it as text, never as markup, and never fails.

Forms are found on the pages themselves (any ``<form method="post">``), so a form added
later is covered without naming it here (once the page it is on is reached: a page of a
duty slot, such as its call-off page, needs the slot's id among the values below).  Forms that end something for good (sign out,
deactivate, retire, revoke, end a pairing) or change the language are left out: they take
no free text, and the next pages need what they would end.
"""
from __future__ import annotations

import re

from lxml import html as lxml_html
from sqlalchemy import select

from tests.hardening.test_page_matrix import _fill, _rules
from tests.webapp.test_pages import submit_wish, task_id_of
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Course, DutySlot, Pairing, RetreatBatch
from webapp.services.org import unit_by_code
from webapp.services.users import find_user

PASSWORD = "demo-pass-2026"
RAW = re.compile(r"<script>uf_xss|<img src=x onerror", re.I)
PAYLOAD = '"><img src=x onerror=uf_xss_0()><script>uf_xss_0()</script>'
LEFT_OUT = ("/auth/logout", "/auth/login", "/auth/locale", "deactivate", "/password",
            "/retire", "/revoke", "/end", "/restore", "/read-all")
PEOPLE = ("admin", "city_admin", "yuzhong_admin", "unit_admin", "station_head", "rider1",
          "volunteer1")


def sign_in(client, who: str) -> None:
    client.post("/auth/logout")
    assert client.post("/auth/login", data={"username": who,
                                            "password": PASSWORD}).status_code == 302


def filled(form, payload: str) -> dict:
    """The form's fields: text with ``payload``, a choice's first real option, boxes
    ticked, hidden fields as they are; the first named button pressed."""
    data: dict = {}
    for field in form.inputs:
        name, kind = field.name, (field.get("type") or "text").lower()
        if not name or kind in ("submit", "button", "file"):
            continue
        if field.tag == "select":
            options = field.value_options
            data[name] = options[1] if len(options) > 1 else (options[0] if options else "")
        elif kind in ("checkbox", "radio"):
            data[name] = field.get("value") or "y"
        elif kind == "hidden":
            data[name] = field.value or ""
        else:
            data[name] = payload
    for button in form.xpath(".//button[@name]")[:1]:
        data[button.get("name")] = button.get("value") or ""
    return data


def test_every_forms_answer_shows_markup_as_text(app, client, demo):
    sign_in(client, "rider1")
    instance_id = submit_wish(client)
    rider = find_user("rider1")
    # A slot of the station nobody signed up for: its head's call-off page (a reason) is
    # reached, and the slot called off with the first payload typed there.
    slot = db.session.scalars(select(DutySlot).where(
        DutySlot.station_id == unit_by_code("st-jfb").id).order_by(DutySlot.starts_at.desc())
        ).first()
    values = {"user_id": rider.id, "person_id": rider.id, "instance_id": instance_id,
              "task_id": task_id_of(instance_id), "key": "micro_wish", "number": 1,
              "course_id": db.session.scalar(select(Course.id).order_by(Course.id)),
              "unit_id": unit_by_code("st-jfb").id,
              "branch_id": unit_by_code("cq-yz-jfb-branch1").id,
              "district_id": unit_by_code("cq-yz").id,
              "batch_id": db.session.scalar(select(RetreatBatch.id)),
              "pairing_id": db.session.scalar(select(Pairing.id)), "notification_id": 1,
              "slot_id": slot.id}
    problems: list[str] = []
    posted = echoed = 0
    actions: set[str] = set()
    for who in PEOPLE:
        sign_in(client, who)
        for rule in _rules(app, "GET"):
            if rule.rule.startswith("/api/") or rule.endpoint == "auth.login":
                continue
            url = _fill(app, rule, values)[0]
            with client.get(url) as page:
                if page.status_code != 200 or page.mimetype != "text/html":
                    continue
                forms = lxml_html.fromstring(page.get_data(as_text=True)).forms
            for form in forms:
                action = form.action or url
                if (form.method or "get").lower() != "post" or any(
                        part in action for part in LEFT_OUT):
                    continue
                answers = []
                actions.add(action)
                with client.post(action, data=filled(form, PAYLOAD)) as answer:
                    posted += 1
                    answers.append((answer.status_code, answer.get_data(as_text=True)))
                    target = answer.headers.get("Location") if answer.status_code in (
                        302, 303) else None
                if target and target.startswith("/"):
                    with client.get(target) as after:
                        answers.append((after.status_code, after.get_data(as_text=True)))
                for status, body in answers:
                    if status >= 500:
                        problems.append(f"{who} {action}: {status}")
                    elif found := RAW.search(body):
                        problems.append(f"{who} {action}: "
                                        f"{body[max(0, found.start() - 80):][:200]!r}")
                    echoed += "uf_xss_0()" in body
    assert not problems, "\n".join(problems)
    assert posted > 80 and echoed > 10, (posted, echoed)  # the forms were reached
    # Among them the city's new retreat batch (name, site) and a slot's call-off reason.
    assert {"/retreat/batches/new", f"/stations/{slot.station_id}/slots/{slot.id}/cancel"
            } <= actions, sorted(actions)
    db.session.expire_all()
    assert db.session.get(DutySlot, slot.id).cancel_reason == PAYLOAD
