"""Markup typed into every free-text field comes back inert, wherever it is shown.

One demo per test.  Every published process (and the innovation-award template, and a
process written in the definition editor with payloads in its names, labels, help and
choices) is started with a distinct payload in each free-text field and in uploaded file
names, comments are added (one through the API, one long and of several lines) and a step
or two is decided with payloads in the decision comment and the step form; a request is
started through the API, another withdrawn with a reason; a wish nobody can check is
reassigned by an administrator with a note, and its new holder delegates it with a note; a
duty slot signed up for is called off by the station's head with a reason.  Payloads also
go into people and units edited and made on the people pages, the people import (a units
CSV and a users XLSX: names, an unknown column, refused rows' bad values; checked, then
confirmed), stations imported from CSV (and a refused row), a course made at
``/courses/new``, another edited at ``/courses/<id>/edit``, a session's topic, and retreat
batches' names and sites (Chinese and English: one made at ``/retreat/batches/new``, the
seeded one edited).  The answer of each of those forms, and the page its redirect leads to
(flash message), is checked like any page.

Then every GET route of ``app.url_map`` (plain; ``?format=csv``, ``?format=xlsx``,
``?q=uf_xss`` where the page offers an export or a search; markup in every query argument a
page reads; every page of a long list; each request's, course's, batch's, new unit's and
new person's own pages) is fetched by the applicant, the deciding staff and the administrators,
the applicant and the platform administrator once more in English; the audit viewer is read
page by page; and the e-mails in the file outbox are read:

* HTML (and SVG) never carries the raw markup, nor ``javascript:`` in an attribute;
* the JSON API answers ``application/json`` and parses;
* a CSV cell never starts with ``= + - @`` (a spreadsheet would run it): neutralised with
  a leading apostrophe; an .xlsx is well-formed XML with no formula cells;
* every e-mail can be sent; subjects are one line; plain text, or escaped where HTML.
* every download's Content-Disposition is one well-formed line (RFC 6266 / 5987).

Each payload must show up (escaped) somewhere, so the checks can fail; what administrators
typed must show up in the audit viewer.
"""
from __future__ import annotations

import csv
import email
import email.policy
import io
import re
import zipfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from tests.hardening.test_page_matrix import _fill, _rules, _token
from tests.webapp.test_people_admin import xlsx
from tests.webapp.test_pages import PNG, alerts, errors, task_id_of
from tests.webapp.test_union_processes import id_card
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import (Course, Delivery, DutySlot, Instance, Notification, Pairing,
                           RetreatBatch, StoredFile, Timer)
from webapp.services import workflow as wf
from webapp.database import write_lock
from webapp.services.org import unit_by_code
from webapp.services.users import create_user, find_user, grant_role

PASSWORD = "demo-pass-2026"
TEMPLATES = Path(__file__).resolve().parents[2] / "webapp" / "definitions" / "templates"
RAW = re.compile(r"<script>uf_xss|<img src=x onerror|<svg onload", re.I)
JS_URL = re.compile(r"""(?:href|src|action|formaction|xlink:href)\s*=\s*["']?\s*javascript:""",
                    re.I)
FORMULA_START = ("=", "+", "-", "@")
# A comment's further lines (one a would-be mail header) and more words than a subject holds.
LONG_LINES = "\r\nBcc: uf-xss@example.com\r\n" + "后续说明" * 100
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")  # a number is a number, not a formula
DISPOSITION = re.compile(r"""^(attachment|inline); filename="[A-Za-z0-9_.-]+"; """
                         r"""filename\*=UTF-8''[A-Za-z0-9%._~-]+$""")
# Markup in every query argument a page reads: whatever a page says back (a search, a
# filter, a date it could not read) is shown inert.
REFLECTED = urlencode({name: '"><script>uf_xss_0()</script>' for name in (
    "q", "actor", "action", "object_type", "object_id", "since", "until", "status", "state",
    "kind", "process", "category", "by", "batch", "district", "year", "scope", "mine",
    "unread", "open", "service", "unit", "parent", "template", "a", "b", "next")})


class Payloads:
    """Distinct payloads ``uf_xss_N``, each short enough for its field."""

    def __init__(self):
        self.planted: dict[int, str] = {}
        self.audited: set[int] = set()  # typed on an administrator's form: in the audit log

    def __call__(self, limit: int = 200, lead: str = "", audited: bool = False) -> str:
        n = len(self.planted) + 1
        if audited:
            self.audited.add(n)
        options = [f'{lead}<script>uf_xss_{n}()</script>"><img src=x onerror=uf_xss_{n}()>',
                   f"{lead}<img src=x onerror=uf_xss_{n}()>", f"{lead}<script>uf_xss_{n}()"]
        text = next(o for o in options if len(o) <= limit)
        self.planted[n] = text
        return text

    def link(self, limit: int = 200) -> str:
        n = len(self.planted) + 1
        text = f"javascript:uf_xss_{n}()"[:limit]
        self.planted[n] = text
        return text


@pytest.fixture
def app_config(app_config, tmp_path):
    return {**app_config, "MAIL_BACKEND": "file", "MAIL_OUTBOX": str(tmp_path / "outbox")}


def sign_in(client, who):
    client.post("/auth/logout")
    r = client.post("/auth/login", data={"username": who, "password": PASSWORD})
    assert r.status_code == 302, who
    return client


def ok(response, what):
    assert response.status_code in (200, 302), (what, response.status_code,
                                                errors(response) + alerts(response))
    return response


class Found:
    """What the checks saw: payload numbers, problems, counts."""

    def __init__(self):
        self.seen: set[int] = set()
        self.problems: list[str] = []
        self.stats = {"neutralised": 0, "xlsx": 0, "asked": 0}


def shown(client, response, what, found: Found):
    """A form's own answer (a report, a page with errors, a password shown once) is checked
    like any page; after a redirect, the page it leads to (with its flash message) too."""
    ok(response, what)
    inspect_answer(f"POST {what}", response, found.seen, found.problems, found.stats)
    if response.status_code == 302:
        with client.get(response.headers["Location"]) as after:
            inspect_answer(f"after {what}", after, found.seen, found.problems, found.stats)
    return response


def start(client, key, data, **kwargs):
    r = ok(client.post(f"/processes/{key}/start", data=data, **kwargs), key)
    assert r.status_code == 302, (key, errors(r) + alerts(r))
    return int(r.headers["Location"].rsplit("/", 1)[1])


def pass_time(instance_id: int) -> None:
    """Fire this request's own timers, earliest first, until its step moves on."""
    db.session.expire_all()
    before = db.session.get(Instance, instance_id).steps
    timers = db.session.execute(select(Timer.id, Timer.fire_at).where(
        Timer.instance_id == instance_id, Timer.status == "pending")
        .order_by(Timer.fire_at)).all()
    for timer_id, fire_at in timers:
        wf.fire_timer(timer_id, fire_at + timedelta(seconds=1))
        db.session.expire_all()
        if db.session.get(Instance, instance_id).steps != before:
            return
    raise AssertionError(f"request {instance_id} still waits at {before}")


def plant(client, p: Payloads, found: Found | None = None) -> dict:
    """Payloads in every free-text field a person can type into; the ids made."""
    found = found or Found()
    made: dict = {"instances": {}, "more": []}
    today = date.today()
    # --- people, units, stations, courses (administrators' forms)
    sign_in(client, "admin")
    rider = find_user("rider1")
    ok(client.post(f"/admin/users/{rider.id}", data={
        "display_name": p(60, lead="=", audited=True), "unit": "cq-yz-logistics",
        "phone": "13800138000",
        "email": "rider1@demo.unionflow.cn", "locale": "zh_CN"}), "display name")
    head = find_user("station_head")
    ok(client.post(f"/admin/users/{head.id}", data={
        "display_name": p(60), "unit": "st-jfb", "email": "", "locale": "zh_CN"}), "head")
    for code in ("cq-yz-jfb", "st-jfb"):
        ok(client.post(f"/admin/units/{unit_by_code(code).id}", data={
            "name": p(200, audited=True), "name_en": p(200, lead="+")}), code)
    # A person and a unit made on the people pages (their answers shown too: the password
    # page names the new person, the unit's page greets it with a flash message).
    shown(client, client.post("/admin/users/new", data={
        "username": "xss.new", "display_name": p(100, lead="-", audited=True), "unit": "cq-yz-jfb",
        "role": "worker", "phone": "", "email": "", "locale": "zh_CN"}), "new user", found)
    shown(client, client.post("/admin/units/new", data={
        "parent": "cq-yz", "kind": "street", "code": "xss-street",
        "name": p(200, lead="@", audited=True),
        "name_en": p(200)}), "new unit", found)
    # The people import: a units CSV and a users workbook, checked (the dry-run report
    # echoes names, and the bad values of refused rows), then confirmed (names in lists).
    units_csv = io.StringIO()
    csv.writer(units_csv).writerows([
        ["code", "name", "kind", "parent", p(40)],  # an unknown column is named back
        ["xss-imp-unit", p(200, lead="=", audited=True), "street", "cq-yz", ""],
        [p(64), "坏编码", "street", "cq-yz", ""],
        ["xss-imp-bad", "坏类型", p(30), "cq-yz", ""],
        ["xss-imp-orphan", "坏上级", "street", p(30), ""]])
    users_rows = [
        ["username", "display_name", "unit", "role", "phone", "email"],
        ["xss.imp1", p(100, lead="+", audited=True), "cq-yz-jfb", "worker", "", ""],
        [p(64), "坏用户名", "cq-yz-jfb", "worker", "", ""],
        ["xss.imp2", "坏单位", p(30), "worker", "", ""],
        ["xss.imp3", "坏角色", "cq-yz-jfb", p(30), "", ""],
        ["xss.imp4", "坏电话", "cq-yz-jfb", "worker", p(20), ""],
        ["xss.imp5", "坏邮箱", "cq-yz-jfb", "worker", "", p(40)]]
    for name, data in (("units.csv", units_csv.getvalue().encode()),
                       ("people.xlsx", xlsx(users_rows))):
        checked = shown(client, client.post("/admin/people/import", data={
            "file": (io.BytesIO(data), name)}, content_type="multipart/form-data"), name, found)
        token = re.search(r'name="token" type="hidden" value="([^"]+)"',
                          checked.get_data(as_text=True))
        assert token, (name, errors(checked) + alerts(checked))
        shown(client, client.post("/admin/people/import/confirm", data={
            "token": token.group(1)}), f"confirm {name}", found)
    assert find_user("xss.imp1") is not None and unit_by_code("xss-imp-unit") is not None
    # Retreat batches on the city's batch forms: the seeded one (the nomination below is
    # for it) renamed on its edit page, a new one made at /retreat/batches/new — their
    # names and sites shown on the quota pages, charts, the start form and the requests.
    sign_in(client, "city_admin")
    batch = db.session.scalar(select(RetreatBatch).order_by(RetreatBatch.id))
    dates = {name: str(getattr(batch, name))
             for name in ("starts_on", "ends_on", "nominations_close_on")}
    shown(client, client.post(f"/retreat/batches/{batch.id}/edit", data={
        **dates, "capacity": str(batch.capacity), "name": p(100, audited=True),
        "name_en": p(100, lead="="), "site": p(200, lead="-"), "site_en": p(200)}),
        "batch edit", found)
    shown(client, client.post("/retreat/batches/new", data={
        "name": p(100, lead="+", audited=True), "name_en": p(100),
        "site": p(200, lead="=", audited=True), "site_en": p(200, lead="@"),
        "starts_on": str(today + timedelta(days=90)), "ends_on": str(today + timedelta(days=95)),
        "nominations_close_on": str(today + timedelta(days=45)), "capacity": "8"}),
        "new batch", found)
    db.session.expire_all()
    made["batch_ids"] = list(db.session.scalars(select(RetreatBatch.id).order_by(
        RetreatBatch.id)))
    assert len(made["batch_ids"]) == 2 and db.session.get(RetreatBatch, batch.id).name \
        .startswith("<script>uf_xss_"), "a batch form above was refused"
    rows = "code,name,district,parent,address,landmark,hours,water,toilet,microwave," \
           "charging_piles,car_parking,motorcycle_parking,open\n"
    row = ["xss-st-1", p(100, lead="@"), "渝中区", "cq-yz-jfb", p(200), p(200, lead="-"),
           "08:00-20:00", "是", "是", "是", "1", "1", "1", "是"]
    out = io.StringIO()
    csv.writer(out).writerows([row, [  # a refused row: its bad values are named back
        "xss-st-2", "坏驿站", p(30), "cq-yz-jfb", "地址", "", "08:00-20:00", p(20), "是", "是",
        p(20), "1", "1", "是"]])
    imported = shown(client, client.post("/admin/stations/import", data={
        "file": (io.BytesIO((rows + out.getvalue()).encode()), "s.csv")},
        content_type="multipart/form-data"), "stations import", found)
    assert "已保存 1 个驿站" in imported.get_data(as_text=True), imported.get_data(as_text=True)
    sign_in(client, "unit_admin")
    course_form = {"title": p(100, lead="="), "kind": p(30), "unit": str(unit_by_code(
        "cq-yz-jfb").id), "venue": p(200), "capacity": "5", "sessions": "1",
        "opens_on": str(today - timedelta(days=1)), "closes_on": str(today + timedelta(days=10)),
        "starts_on": str(today + timedelta(days=12)), "ends_on": str(today + timedelta(days=20)),
        "description": p(2000)}
    ok(client.post("/courses/new", data=course_form), "course")
    db.session.expire_all()
    made["course_id"] = db.session.scalar(select(Course.id).order_by(Course.id.desc()))
    # A second course, made with plain words, then given payloads on its edit page, and a
    # session with a topic on its timetable.
    shown(client, client.post("/courses/new", data={**course_form, "title": "叉车培训",
                                                   "kind": "叉车", "venue": "一楼",
                                                   "description": "理论"}), "course 2", found)
    db.session.expire_all()
    second = db.session.scalar(select(Course.id).order_by(Course.id.desc()))
    assert second != made["course_id"]
    shown(client, client.post(f"/courses/{second}/edit", data={
        **course_form, "title": p(100, audited=True), "kind": p(30, lead="+"),
        "venue": p(200, lead="="),
        "description": p(2000)}), "course edit", found)
    shown(client, client.post(f"/courses/{made['course_id']}/sessions", data={
        "session-day": str(today + timedelta(days=13)), "session-starts": "19:00",
        "session-ends": "21:00", "session-topic": p(100, lead="=")}), "session", found)
    made["course_ids"] = [made["course_id"], second]

    # --- every published process, as an eligible person
    wf.publish_file(TEMPLATES / "innovation_award.yaml")
    db.session.commit()
    # A process written in the definition editor: its names, labels, help and choices are
    # typed by an administrator (single-quoted YAML: the payloads carry no apostrophe).
    sign_in(client, "admin")
    q = lambda limit=60, lead="": "'" + p(limit, lead) + "'"  # noqa: E731
    source = "\n".join([
        "key: xss_defined", f"name: {q()}", f"name_en: {q()}", f"description: {q(200)}",
        "start:", "  who: {role: worker}", "  form:",
        f"    - {{name: subject, type: text, label: {q()}, help: {q(200)}, required: true}}",
        "    - name: pick", "      type: choice", f"      label: {q()}", "      choices:",
        f"        one: {{label: {q()}, label_en: {q()}}}", "        two: {label: 二}",
        "steps:", "  review:", "    kind: approval", f"    name: {q()}", f"    name_en: {q()}",
        "    approvers: {role: unit_admin, of: applicant}", "    return_to: [applicant]",
        "    next: done", "ends:", f"  done: {{status: completed, name: {q()}}}",
        "  rejected: {status: rejected, name: 未通过}", ""])
    shown(client, client.post("/admin/definitions/new", data={"source": source,
                                                        "action": "publish"}),
          "definition", found)
    sign_in(client, "rider1")
    wish = start(client, "micro_wish", {
        "title": p(40, lead="="), "category": "goods", "story": p(500), "budget": "10",
        "station": str(unit_by_code("st-jfb").id), "contact_name": p(20),
        "phone": "13800138000", "photo": (io.BytesIO(PNG), p(40) + ".png")},  # a file name
        content_type="multipart/form-data")
    demand = start(client, "worker_demand", {
        "category": "parking", "station": str(unit_by_code("st-jfb").id),
        "location": p(100, lead="="), "description": p(1000), "phone": "13800138000"})
    retreat = start(client, "retreat_nomination", {
        "batch": str(batch.id), "honour": "frontline", "id_card": id_card(),
        "phone": "13800138000", "health_ok": "y", "health_note": p(300),
        "deeds": p(1000, lead="+") + "从事外卖配送五年，累计安全配送三万余单"})
    training = start(client, "training_registration", {
        "course": str(made["course_id"]), "real_name": p(20), "occupation": "delivery",
        "occupation_confirmed": "y", "phone": "13800138000",
        "id_card": id_card(), "motivation": p(300)})
    award = start(client, "innovation_award", {
        "title": p(60), "category": "invention", "patent_no": p.link(30),
        "summary": p(2000) + "一种外卖保温箱的改进结构", "benefit": p(1000),
        "phone": "13800138000"})
    defined = start(client, "xss_defined", {"subject": p(100), "pick": "one"})
    sign_in(client, "volunteer1")
    station = unit_by_code("st-jfb")
    slot = db.session.scalars(select(DutySlot).where(DutySlot.station_id == station.id)
                              .order_by(DutySlot.starts_at)).first()
    duty = start(client, "station_master", {"station": str(station.id), "slot": str(slot.id),
                                            "phone": "13700137000"})
    # Another slot of the station, signed up for, then called off by its head with a
    # reason: on the slots page, the request's history and the volunteer's message.
    later = db.session.scalars(select(DutySlot).where(
        DutySlot.station_id == station.id, DutySlot.id != slot.id,
        DutySlot.starts_at > slot.starts_at).order_by(DutySlot.starts_at)).first()
    sign_in(client, "volunteer2")
    called_off = start(client, "station_master", {
        "station": str(station.id), "slot": str(later.id), "phone": "13500135000"})
    sign_in(client, "station_head")
    shown(client, client.post(f"/stations/{station.id}/slots/{later.id}/cancel", data={
        "reason": p(500, lead="=")}), "call off", found)
    db.session.expire_all()
    assert db.session.get(Instance, called_off).status == "cancelled", "the call-off failed"
    made["more"].append(("station_master", called_off))
    # A wish at a station with no head waits for an administrator: given to a new head
    # with a note on the 待指派任务 page, then handed to a deputy with a note.
    sign_in(client, "courier1")
    gyq = unit_by_code("st-gyq")
    stuck = start(client, "micro_wish", {
        "title": "一个新头盔", "category": "goods", "story": "电动车头盔摔坏了，想要一个新的",
        "budget": "80", "station": str(gyq.id), "contact_name": "杨洋",
        "phone": "13800138000"})
    with write_lock():
        for name in ("xss.gyq_head", "xss.gyq_deputy"):
            grant_role(create_user(name, PASSWORD, name, unit=gyq), "station_head", gyq)
    db.session.commit()
    sign_in(client, "yuzhong_admin")
    shown(client, client.post(f"/admin/unassigned/{task_id_of(stuck)}/reassign", data={
        "username": "xss.gyq_head", "comment": p(2000, audited=True) + LONG_LINES}),
        "reassign", found)
    sign_in(client, "xss.gyq_head")
    shown(client, client.post(f"/tasks/{task_id_of(stuck)}/delegate", data={
        "username": "xss.gyq_deputy",
        "comment": p(2000, lead="=", audited=True) + LONG_LINES}), "delegate", found)
    made["more"].append(("micro_wish", stuck))
    made["instances"] = {"micro_wish": wish, "worker_demand": demand,
                         "retreat_nomination": retreat, "training_registration": training,
                         "innovation_award": award, "station_master": duty,
                         "xss_defined": defined}
    published = {d.key for d in db.session.scalars(select(wf.ProcessDefinition))}
    assert published == set(made["instances"]), published
    # Comments on each, by the person who can see it (javascript: as a comment too).
    for key, instance_id in made["instances"].items():
        sign_in(client, "volunteer1" if key == "station_master" else "rider1")
        ok(client.post(f"/instances/{instance_id}/comments", data={"text": p(1000)}), key)
    ok(client.post(f"/instances/{award}/comments", data={"text": p(1000) + LONG_LINES}),
       "long comment")  # e-mailed to the reviewer in the evening digest
    sign_in(client, "volunteer1")
    ok(client.post(f"/instances/{duty}/comments", data={"text": p.link()}), "link comment")
    # Through the API: a request started with payloads, a comment on it; the web pages and
    # the API answers show them.  Then a request withdrawn with a reason.
    sign_in(client, "rider1")
    bearer = {"Authorization": "Bearer " + _token(client, "rider1")}
    by_api = client.post("/api/v1/processes/worker_demand/instances", headers=bearer, json={
        "data": {"category": "parking", "station": unit_by_code("st-jfb").id,
                 "location": p(100, lead="@"), "description": p(1000),
                 "phone": "13800138000"}})
    assert by_api.status_code == 201, by_api.get_json()
    api_id = by_api.get_json()["id"]
    said = client.post(f"/api/v1/instances/{api_id}/comments", headers=bearer,
                       json={"text": p(1000, lead="=")})
    assert said.status_code == 201, said.get_json()
    inspect_answer("POST api comment", said, found.seen, found.problems, found.stats)
    withdrawn = start(client, "worker_demand", {
        "category": "parking", "station": str(unit_by_code("st-jfb").id),
        "location": "解放碑", "description": "解放碑附近电动车停放点车位不够", "phone": "13800138000"})
    shown(client, client.post(f"/instances/{withdrawn}/withdraw", data={
        "comment": p(500, lead="-")}), "withdraw", found)
    made["more"] += [("worker_demand", api_id), ("worker_demand", withdrawn)]

    # --- a step or two, decisions carrying payloads
    sign_in(client, "station_head")
    ok(client.post(f"/tasks/{task_id_of(wish)}", data={"action": "approve",
                                                      "comment": p(500)}), "verify")
    sign_in(client, "volunteer1")
    ok(client.post(f"/tasks/{task_id_of(wish)}/claim"), "claim")
    ok(client.post(f"/tasks/{task_id_of(wish)}", data={
        "action": "complete", "fulfil_note": p(300), "proof": (io.BytesIO(PNG), p(40) + ".png")},
        content_type="multipart/form-data"), "fulfil")
    sign_in(client, "yuzhong_admin")
    ok(client.post(f"/tasks/{task_id_of(demand)}", data={
        "action": "approve", "responsible_unit": str(unit_by_code("cq-yz-jfb").id),
        "dispatch_note": p(500, lead="-"), "comment": p(500)}), "dispatch")
    sign_in(client, "unit_admin")
    ok(client.post(f"/tasks/{task_id_of(demand)}", data={
        "action": "complete", "handler_name": p(20)}), "acknowledge")
    ok(client.post(f"/tasks/{task_id_of(demand)}", data={
        "action": "complete", "answer": p(2000)}), "answer")
    ok(client.post(f"/tasks/{task_id_of(retreat)}", data={"action": "approve",
                                                         "comment": p(500)}), "unit review")
    # A return reason (it goes into the applicant's e-mail subject at once) of several
    # lines and many words: a header line of its own, and longer than a subject is stored.
    ok(client.post(f"/tasks/{task_id_of(award)}", data={"action": "return",
                                                       "comment": p(500) + LONG_LINES}),
       "award return")
    # The nomination on to the notice board; an objection and its finding.
    for who in ("yuzhong_admin", "city_admin"):
        sign_in(client, who)
        ok(client.post(f"/tasks/{task_id_of(retreat)}", data={"action": "approve",
                                                             "comment": p(500)}), who)
    sign_in(client, "volunteer1")
    ok(client.post(f"/tasks/{task_id_of(retreat)}", data={"action": "object",
                                                         "comment": p(500)}), "objection")
    pass_time(retreat)  # the notice period ends, with an objection
    sign_in(client, "city_admin")
    ok(client.post(f"/tasks/{task_id_of(retreat)}", data={
        "action": "approve", "objection_finding": p(500), "comment": p(500)}), "finding")
    # The duty day comes: check in and report with notes.
    pass_time(duty)
    sign_in(client, "volunteer1")
    ok(client.post(f"/tasks/{task_id_of(duty)}", data={"action": "complete",
                                                       "arrival_note": p(100)}), "check in")
    ok(client.post(f"/tasks/{task_id_of(duty)}", data={
        "action": "complete", "checklist": ["clean", "water", "charging"], "hours": "8",
        "opinions": p(1000, lead="="), "event_held": "y", "event_summary": p(500)}), "report")
    db.session.expire_all()
    for key, instance_id in made["instances"].items():
        assert task_id_of(instance_id), f"{key} stopped: a step above was refused"
    return made


def inspect_answer(target: str, answer, seen: set, problems: list, stats: dict) -> None:
    disposition = answer.headers.get("Content-Disposition")
    if disposition is not None and not DISPOSITION.match(disposition):
        problems.append(f"{target}: Content-Disposition {disposition!r}")
    body = answer.get_data()
    mimetype = answer.mimetype or ""
    if mimetype == "application/json" or target.startswith("/api/"):
        if answer.status_code < 400 or body:
            if mimetype != "application/json":
                problems.append(f"{target}: API answered {mimetype}")
            else:
                import json
                json.loads(body)
        text = body.decode("utf-8", "replace")
    elif mimetype in ("text/csv", "text/plain") or "format=csv" in target and body[:3] != b"<!D":
        text = body.decode("utf-8-sig", "replace")
        for row in csv.reader(io.StringIO(text)):
            for cell in row:
                if cell.startswith(FORMULA_START) and not NUMBER.match(cell):
                    problems.append(f"{target}: CSV cell would run as a formula: {cell[:60]!r}")
                elif cell.startswith("'") and cell[1:2] in FORMULA_START and "uf_xss" in cell:
                    stats["neutralised"] += 1
    elif body[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(body)) as book:
            parts = {name: book.read(name) for name in book.namelist()}
        text = ""
        for name, part in parts.items():
            if name.endswith(".xml"):
                tree = ElementTree.fromstring(part)  # well-formed: nothing broke out
                if any(el.tag.endswith("}f") for el in tree.iter()):
                    problems.append(f"{target}: formula cell in {name}")
                text += part.decode("utf-8", "replace")
        stats["xlsx"] += "uf_xss" in text
        # A text cell that starts like a formula has the quote-prefix style: edited in
        # Excel (F2, Enter), it stays text.
        main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
        styles = ElementTree.fromstring(parts["xl/styles.xml"]).find(f"{main}cellXfs")
        quoted = {str(i) for i, xf in enumerate(styles) if xf.get("quotePrefix") == "1"}
        for cell in ElementTree.fromstring(parts["xl/worksheets/sheet1.xml"]).iter(f"{main}c"):
            value = "".join(cell.itertext())
            if (cell.get("t") == "inlineStr" and value.startswith(FORMULA_START)
                    and not re.fullmatch(r"[A-Z]+1", cell.get("r", ""))):
                if cell.get("s") not in quoted:
                    problems.append(f"{target}: XLSX cell {cell.get('r')} would run once "
                                    f"edited: {value[:60]!r}")
                elif "uf_xss" in value:
                    stats["xlsx_quoted"] = stats.get("xlsx_quoted", 0) + 1
        if RAW.search(text.replace("&lt;", "\0")):
            problems.append(f"{target}: raw markup inside the workbook")
        text = ""
    elif mimetype in ("text/html", "image/svg+xml") or not mimetype:
        text = body.decode("utf-8", "replace")
        if RAW.search(text):
            problems.append(f"{target}: raw payload markup: "
                            f"{text[max(0, RAW.search(text).start() - 80):][:200]!r}")
        if JS_URL.search(text):
            problems.append(f"{target}: javascript: URL in an attribute")
    else:  # pictures, PDFs: no text of ours to check
        return
    seen.update(int(n) for n in re.findall(r"uf_xss_(\d+)", text))


def sweep(app, client, made: dict, people: list[str],
          found: Found | None = None) -> tuple[set, list, dict]:
    """Every GET route for each person, with each request's, course's, unit's and
    person's ids; what each shows."""
    found = found or Found()
    seen, problems, stats = found.seen, found.problems, found.stats
    rider = find_user("rider1")
    base = {"user_id": rider.id, "person_id": rider.id, "course_id": made["course_id"],
            "unit_id": unit_by_code("st-jfb").id, "branch_id": unit_by_code(
                "cq-yz-jfb-branch1").id, "district_id": unit_by_code("cq-yz").id,
            "batch_id": db.session.scalar(select(RetreatBatch.id)), "number": 1,
            "pairing_id": db.session.scalar(select(Pairing.id)),
            "delivery_id": db.session.scalar(select(Delivery.id)) or 1,
            "notification_id": db.session.scalar(select(Notification.id)) or 1,
            "file_key": db.session.scalar(select(StoredFile.key))}
    per_request = [{**base, "instance_id": i, "task_id": task_id_of(i) or 1, "key": key}
                   for key, i in [*made["instances"].items(), *made.get("more", [])]]
    # The other things made with payloads: a course edited, units and people added.
    others = {"course_id": made.get("course_ids", []), "batch_id": made.get("batch_ids", []),
              "unit_id": [u.id for u in map(unit_by_code, ("xss-street", "xss-imp-unit")) if u],
              "user_id": [u.id for u in map(find_user, ("xss.new", "xss.imp1")) if u]}
    for person in people:
        who, _, language = person.partition("@")  # "admin@en": in English
        sign_in(client, who)
        if language:
            ok(client.post("/auth/locale", data={"locale": language}), person)
        bearer = {"Authorization": "Bearer " + _token(client, who)}
        for rule in _rules(app, "GET"):
            if rule.endpoint in ("auth.login", "main.healthz", "api.openapi",
                                 "admin.stations_template"):
                continue
            specific = rule.arguments & {"instance_id", "task_id", "key"}
            choices = per_request if specific else per_request[:1]
            for name in rule.arguments & set(others):
                choices = choices + [{**per_request[0], name: v} for v in others[name]]
            urls = sorted({_fill(app, rule, values)[0] for values in choices})
            for url in urls:
                joiner = "&" if "?" in url else "?"
                suffixes = [""]
                while suffixes:
                    suffix = suffixes.pop(0)
                    target = url + (joiner + suffix if suffix else "")
                    headers = bearer if target.startswith("/api/") else {}
                    with client.get(target, headers=headers) as answer:
                        stats["asked"] += 1
                        if answer.status_code >= 500:
                            problems.append(f"{person} {target} → {answer.status_code}")
                        elif answer.status_code == 200:
                            inspect_answer(f"{person} {target}", answer, seen, problems, stats)
                            html = (answer.get_data(as_text=True)
                                    if answer.mimetype == "text/html" else "")
                            if not suffix and answer.mimetype == "text/html":
                                # The exports and the search a page offers, with payloads.
                                if "format=csv" in html:
                                    suffixes += ["format=csv", "format=xlsx"]
                                if 'name="q"' in html:
                                    suffixes.append("q=uf_xss")
                                suffixes.append(REFLECTED)
                            # Every page of a long list (the audit log is one): older
                            # entries are shown on later pages.
                            number = int(suffix[5:]) if suffix.startswith("page=") else 1
                            if (answer.mimetype == "text/html" and (not suffix or number > 1)
                                    and f"page={number + 1}" in html and number < 30):
                                suffixes.append(f"page={number + 1}")
    return seen, problems, stats


def test_payloads_in_every_text_field_render_inert_on_every_page_and_export(app, client, demo):
    p = Payloads()
    found = Found()
    made = plant(client, p, found)
    seen, problems, stats = sweep(app, client, made, [
        "rider1", "volunteer1", "station_head", "unit_admin", "yuzhong_admin", "city_admin",
        "admin", "rider1@en", "admin@en"], found)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
    assert stats["asked"] > 400
    assert 0 in seen  # the query arguments' markup was said back (escaped) somewhere
    # The audit viewer shows what administrators typed (before and after), escaped: every
    # page of it, as the platform administrator.
    sign_in(client, "admin")
    in_audit: set[int] = set()
    for number in range(1, 200):
        with client.get(f"/admin/audit?page={number}") as answer:
            html = answer.get_data(as_text=True)
        assert not RAW.search(html), html[RAW.search(html).start() - 80:][:200]
        in_audit.update(int(n) for n in re.findall(r"uf_xss_(\d+)", html))
        if f"page={number + 1}" not in html:
            break
    assert p.audited <= in_audit, {n: p.planted[n] for n in p.audited - in_audit}
    # Every payload was shown somewhere (escaped), so the checks above looked at it.
    missing = {n: p.planted[n] for n in p.planted if n not in seen}
    assert not missing, f"never shown: {missing}"
    assert stats["neutralised"] > 0 and stats["xlsx"] > 0 and stats.get("xlsx_quoted"), stats

    # E-mails in the outbox: plain text, or escaped HTML; one-line subjects.
    from webapp.services import outbox

    later = datetime.now(timezone.utc) + timedelta(days=2)
    outbox.send_digests(later)
    db.session.expire_all()
    ids = [d.id for d in db.session.scalars(select(Delivery).where(Delivery.channel == "email"))]
    failed = outbox.deliver(ids, now=later)
    assert not failed, [(d.subject[:80], d.last_error) for d in map(
        lambda i: db.session.get(Delivery, i), failed)]  # every mail could be sent
    mails = sorted(Path(app.config["MAIL_OUTBOX"]).glob("*.eml"))
    assert mails, "the steps above send e-mail"
    bodies = []
    for path in mails:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert "\n" not in str(message["Subject"] or "")  # no header injection
        assert "uf-xss@example.com" not in str(message["Bcc"] or "") + str(message["To"])
        bodies.append(message.get_body(("plain",)).get_content())
        for part in message.walk():
            if part.get_content_type() == "text/html":
                html = part.get_payload(decode=True).decode("utf-8", "replace")
                assert not RAW.search(html) and not JS_URL.search(html), path.name
            else:
                assert part.get_content_maintype() in ("text", "multipart"), path.name
    # A long reason is cut short in the subject only: the mail's text has all of it.
    assert any("uf-xss@example.com" in b and "后续说明" * 100 in b for b in bodies)
