"""Authorisation matrix over every route of the app, found in ``app.url_map`` — so a page
added later is in the matrix without anyone remembering to add it.

Each GET route is asked by every demo person and by someone not signed in, once with
objects of 渝中区 (where most demo people work) and once with objects of 江北区.  The rules
are generic:

* nothing answers 5xx;
* someone not signed in is sent to the sign-in page (pages) or gets 401 (``/api/``),
  except on the few public routes below;
* a view marked ``@roles_required(...)`` refuses (403) people holding none of its roles;
* ``/admin/…`` refuses people holding no administrator role, ``/reports/…`` refuses
  workers and volunteers — with ``?format=csv`` / ``?format=xlsx`` (exports) too;
* an object of another district (a request, a task, a file, a person, a course, a
  trainee's certificate) is 403 or 404 for people whose roles are all in 渝中区.

Every page's element ids are unique.  Every form route refuses a POST without a CSRF token (400), and every non-public route
sends an anonymous POST to sign in.
"""
from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import select

from tests.webapp.test_pages import PNG, task_id_of, wish_form
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp import create_app
from webapp.demo import USERS
from webapp.extensions import db
from webapp.main.capabilities import ADMIN_ROLES
from webapp.models import (Course, Delivery, Notification, Pairing, RetreatBatch,
                           StoredFile)
from webapp.services.org import unit_by_code
from webapp.services.users import find_user

PASSWORD = "demo-pass-2026"
ROLES_OF = {u.username: frozenset(role for role, _unit in u.roles) for u in USERS}
PEOPLE = sorted(ROLES_OF)

# Routes anyone may open without signing in.
PUBLIC = {"static", "bootstrap.static", "main.healthz", "auth.login", "auth.set_locale",
          "api.openapi", "api.issue_token"}
# Pages of an object every signed-in person may read wherever it belongs: a course's
# page (dates, venue, who may join) — the registration form offers every open course of
# the city to every worker.
CITY_WIDE = {"training.course"}
# People with no administrator role anywhere, and people who see no reports at all.
NON_ADMINS = frozenset(p for p in PEOPLE if not ROLES_OF[p] & ADMIN_ROLES)
NO_REPORTS = frozenset(p for p in PEOPLE if ROLES_OF[p] <= {"worker", "volunteer"})
# People whose every role is in 渝中区 (or 沙坪坝区): 江北区 objects are not theirs.
CONFINED = frozenset({"yuzhong_admin", "shapingba_admin", "unit_admin", "station_head",
                      "branch_secretary", "volunteer1", "rider1", "courier1"})
# URL parameters naming an object that belongs to one district.
SCOPED = {"instance_id", "task_id", "notification_id", "file_key", "user_id", "person_id",
          "course_id", "branch_id", "certificate_id"}
EXPORT_FORMATS = ("csv", "xlsx")
REFUSED = (403, 404)


@dataclass(frozen=True)
class Case:
    who: str | None
    endpoint: str
    url: str
    variant: str
    scoped: bool


def _sign_in(client, who):
    client.post("/auth/logout")
    if who:
        r = client.post("/auth/login", data={"username": who, "password": PASSWORD})
        assert r.status_code == 302, who


def _start_wish(client, station: str) -> int:
    r = client.post("/processes/micro_wish/start", data={
        **wish_form(station=str(unit_by_code(station).id)),
        "photo": (io.BytesIO(PNG), "photo.png")}, content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return int(r.headers["Location"].rsplit("/", 1)[1])


@pytest.fixture
def world(app, client, demo):
    """Ids of one object of each kind in 渝中区 ("own") and in 江北区 ("other")."""
    from datetime import date, timedelta

    from webapp.services.activities import create_course

    values = {}
    for variant, who, station in (("own", "rider1", "st-jfb"), ("other", "driver1", "st-gyq")):
        _sign_in(client, who)
        instance_id = _start_wish(client, station)
        user = find_user(who)
        values[variant] = {
            "instance_id": instance_id, "task_id": task_id_of(instance_id),
            "file_key": db.session.scalar(select(StoredFile.key).where(
                StoredFile.instance_id == instance_id)),
            "user_id": user.id, "person_id": user.id,
        }
    _sign_in(client, None)
    today = date.today()
    create_course(title="江北区叉车培训", kind="叉车", unit=unit_by_code("cq-jb-gyq"),
                  venue="观音桥", capacity=5, requires_approval=False, opens_on=today,
                  closes_on=today + timedelta(days=5), starts_on=today + timedelta(days=6),
                  ends_on=today + timedelta(days=7), sessions=1)
    db.session.commit()
    courses = {c.unit.code if c.unit else "": c.id for c in db.session.scalars(select(Course))}
    notes = {n.user_id: n.id for n in db.session.scalars(select(Notification))}
    # A certificate route is asked about a registration completed in the district (the
    # wish above has none): a 渝中区 worker's of a 渝中区 course, a 江北区 worker's of a
    # 江北区 course — whose attendance 观音桥街道工会's administrator decides.
    from webapp.demo import CITY_USERS, _ensure_user

    _ensure_user(next(u for u in CITY_USERS if u.username == "admin_gyq"), PASSWORD)
    values["own"]["certificate_id"] = _completed_registration("rider1", "cq-yz-jfb",
                                                              "unit_admin")
    values["other"]["certificate_id"] = _completed_registration("driver1", "cq-jb-gyq",
                                                                "admin_gyq")
    for variant, branch, station, district, course in (
            ("own", "cq-yz-jfb-branch1", "st-jfb", "cq-yz", "cq-yz-jfb"),
            ("other", "cq-jb-gyq-branch1", "st-gyq", "cq-jb", "cq-jb-gyq")):
        station_unit = unit_by_code(station)
        values[variant].update(
            branch_id=unit_by_code(branch).id, unit_id=station_unit.id,
            district_id=unit_by_code(district).id, course_id=courses[course],
            pairing_id=db.session.scalar(select(Pairing.id).where(
                Pairing.station_id == station_unit.id)),
            key="micro_wish", number=1,
            batch_id=db.session.scalar(select(RetreatBatch.id)),
            delivery_id=db.session.scalar(select(Delivery.id)) or 1,
            notification_id=next(iter(notes.values()), 1))
    return values


def _completed_registration(who: str, unit: str, organiser: str) -> int:
    """``who``'s registration for a new one-session course of ``unit``, held and
    completed — its certificate issued: registered for while open, the course moved
    into the past, its session attended, completion decided by ``organiser``.  Only this
    registration's timers fire (the world's other requests keep theirs)."""
    from datetime import datetime, time, timedelta, timezone

    from tests.webapp.test_training import REAL_NAMES, TRAINEES, move_into_the_past
    from tests.webapp.test_union_processes import id_card
    from webapp.database import write_lock
    from webapp.models import Timer
    from webapp.services import training
    from webapp.services import workflow as wf
    from webapp.services.activities import CHINA, create_course

    today = datetime.now(CHINA).date()
    day = today + timedelta(days=6)
    course = create_course(
        title=f"{unit} 结业证书班", kind="证书", unit=unit_by_code(unit), venue="-",
        capacity=5, requires_approval=False, opens_on=today,
        closes_on=today + timedelta(days=5), starts_on=day, ends_on=day,
        schedule=[(datetime.combine(day, time(9), CHINA),
                   datetime.combine(day, time(11), CHINA), "")])
    db.session.commit()
    occupation, phone, first17 = TRAINEES[who]
    instance = wf.start_instance("training_registration", find_user(who), {
        "course": course.id, "real_name": REAL_NAMES[who], "occupation": occupation,
        "occupation_confirmed": True, "phone": phone, "id_card": id_card(first17)})
    db.session.commit()
    instance_id = instance.id
    move_into_the_past(course)
    with write_lock():  # as a course's change does, in a transaction that writes
        training.retime_registrations(course)  # its wait for the course's end: over now
    db.session.commit()
    now = datetime.now(timezone.utc)
    for timer_id in db.session.scalars(select(Timer.id).where(
            Timer.instance_id == instance_id, Timer.status == "pending",
            Timer.fire_at <= now)).all():
        wf.fire_timer(timer_id, now)
    actor = find_user(organiser)
    training.save_register(course, actor, {(s.id, instance_id) for s in course.schedule})
    decided = training.decide_completion(course, actor)
    db.session.commit()
    assert (decided.passed, decided.errors) == (1, []), decided
    return instance_id


def _fill(app: Flask, rule, values: dict) -> tuple[str, bool] | None:
    """The URL of ``rule`` with ``values``; whether it names a district's object."""
    args, scoped = {}, False
    for name in rule.arguments:
        source = "file_key" if name == "key" and rule.rule.startswith(
            ("/files/", "/api/v1/files/")) else name
        if name == "instance_id" and rule.rule.endswith("/certificate.pdf") \
                and "certificate_id" in values:
            source = "certificate_id"
        if source in values:
            args[name] = values[source]
        else:  # a parameter this matrix does not know yet: still asked, never a 500
            converter = rule._converters.get(name)
            args[name] = 1 if type(converter).__name__ == "IdConverter" else "x"
        scoped = scoped or source in SCOPED
    adapter = app.url_map.bind("localhost")
    return adapter.build(rule.endpoint, args, method="GET" if "GET" in rule.methods else None,
                         force_external=False), scoped


def _token(client, who: str) -> str:
    r = client.post("/api/v1/tokens", json={"username": who, "password": PASSWORD})
    assert r.status_code == 201, who
    return r.get_json()["token"]


def _rules(app: Flask, method: str):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if method in rule.methods and rule.endpoint not in ("static", "bootstrap.static"):
            yield rule


def _refusals(app, client, world) -> tuple[list[str], dict]:
    wrong, seen = [], {}
    for who in [None] + PEOPLE:
        _sign_in(client, who)
        bearer = {"Authorization": "Bearer " + _token(client, who)} if who else {}
        for rule in _rules(app, "GET"):
            view = app.view_functions[rule.endpoint]
            required = getattr(view, "required_roles", None)
            variants = ("own", "other") if rule.arguments else ("own",)
            for variant in variants:
                url, scoped = _fill(app, rule, world[variant])
                urls = [url]
                if rule.rule.startswith(("/reports/", "/admin/")):
                    urls += [url + ("&" if "?" in url else "?") + f"format={f}"
                             for f in EXPORT_FORMATS]
                for target in urls:
                    # The API takes bearer tokens only; pages take the session cookie.
                    headers = bearer if target.startswith("/api/") else {}
                    with client.get(target, headers=headers) as answer:
                        status = answer.status_code
                        if status == 200 and answer.mimetype == "text/html":
                            twice = _repeated_ids(answer.get_data(as_text=True))
                            if twice:
                                wrong.append(f"{who} GET {target}: ids used twice {twice}")
                    seen[(who, rule.endpoint, variant, target)] = status
                    problem = _judge(who, rule, required, variant, scoped, status)
                    if problem:
                        wrong.append(f"{who or 'anonymous'} GET {target} → {status}: {problem}")
    return wrong, seen


def _repeated_ids(html: str) -> list[str]:
    """Ids given to more than one element: a label, ``aria-describedby`` or a skip link
    pointing at such an id reaches the wrong element (a form's CSRF input was one)."""
    counts = Counter(re.findall(r'<[a-zA-Z][^>]*?\sid="([^"]+)"', html))
    return sorted(i for i, n in counts.items() if n > 1)


def _judge(who, rule, required, variant, scoped, status) -> str | None:
    if status >= 500:
        return "server error"
    if who is None:
        if rule.endpoint in PUBLIC:
            return None
        if rule.rule.startswith("/api/"):
            return None if status == 401 else "anonymous API call not 401"
        return None if status == 302 else "anonymous not sent to sign in"
    if required is not None and not ROLES_OF[who] & required and status != 403:
        return f"needs one of {sorted(required)}"
    if rule.rule.startswith("/admin/") and who in NON_ADMINS and status not in REFUSED:
        return "admin area open to a non-administrator"
    if rule.rule.startswith("/reports/") and who in NO_REPORTS and status not in REFUSED:
        return "reports open to a worker or volunteer"
    if variant == "other" and scoped and who in CONFINED and status not in REFUSED \
            and rule.endpoint not in CITY_WIDE:
        return "another district's object reached"
    return None


def test_every_page_and_route_for_every_role(app, client, world):
    wrong, seen = _refusals(app, client, world)
    assert not wrong, f"{len(wrong)} wrong answers:\n" + "\n".join(wrong[:80])
    # The matrix can fail: the people a thing belongs to do reach it.
    own = world["own"]
    must_open = [("rider1", f"/instances/{own['instance_id']}"),
                 ("rider1", f"/files/{own['file_key']}"),
                 ("rider1", f"/api/v1/files/{own['file_key']}"),
                 ("station_head", f"/tasks/{own['task_id']}"),
                 ("yuzhong_admin", f"/instances/{own['instance_id']}"),
                 ("yuzhong_admin", "/admin/instances"),
                 # A certificate: the trainee's, and the administrators' over it to read.
                 ("rider1", f"/instances/{own['certificate_id']}/certificate.pdf"),
                 ("unit_admin", f"/instances/{own['certificate_id']}/certificate.pdf"),
                 ("yuzhong_admin", f"/instances/{own['certificate_id']}/certificate.pdf"),
                 ("yuzhong_admin",
                  f"/api/v1/instances/{own['certificate_id']}/certificate.pdf"),
                 ("supervisor", f"/instances/{own['certificate_id']}/certificate.pdf"),
                 ("jiangbei_admin",
                  f"/instances/{world['other']['certificate_id']}/certificate.pdf"),
                 ("admin", "/admin/definitions/"),
                 ("city_admin", "/reports/demands")]
    for who, url in must_open:
        status = next(s for (w, _e, _v, target), s in seen.items() if w == who and target == url)
        assert status == 200, (who, url, status)


def test_the_matrix_reaches_every_route(app, client, world):
    """Every GET route was built and asked, and anonymous POSTs are sent to sign in."""
    asked = {rule.endpoint for rule in _rules(app, "GET")}
    assert {"processes.instance", "tasks.task", "processes.download", "admin.users",
            "reports.demands", "definitions.edit"} <= asked
    wrong = []
    for rule in _rules(app, "POST"):
        url, _scoped = _fill(app, rule, world["own"])
        status = client.post(url).status_code
        if status >= 500:
            wrong.append(f"POST {url} → {status}")
        elif rule.endpoint in PUBLIC:
            continue
        elif rule.rule.startswith("/api/") and status != 401:
            wrong.append(f"anonymous POST {url} → {status}, not 401")
        elif not rule.rule.startswith("/api/") and (
                status != 302 or "/auth/login" not in client.post(url).headers.get("Location", "")):
            wrong.append(f"anonymous POST {url} → {status}, not sent to sign in")
    assert not wrong, "\n".join(wrong)


def _csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert found, "the sign-in page carries a CSRF token"
    return found.group(1)


def _guarded_sign_in(client, who: str) -> None:
    """Sign in on an app with CSRF protection on, as a browser does."""
    token = _csrf_token(client.get("/auth/login").get_data(as_text=True))
    signed = client.post("/auth/login", data={"username": who, "password": PASSWORD,
                                              "csrf_token": token})
    assert signed.status_code == 302, who
    assert client.get("/").status_code == 200


def test_every_form_route_refuses_a_post_without_csrf_token(app_config, world):
    guarded = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    client = guarded.test_client()
    with guarded.app_context():
        _guarded_sign_in(client, "admin")
        wrong = []
        for rule in _rules(guarded, "POST"):
            if rule.rule.startswith("/api/"):
                continue  # bearer tokens, not cookies: no CSRF (tests/webapp/test_api.py)
            url, _scoped = _fill(guarded, rule, world["own"])
            answer = client.post(url, data={"comment": "x", "text": "x", "action": "approve"})
            if answer.status_code != 400:
                wrong.append(f"POST {url} without a CSRF token → {answer.status_code}")
        db.session.remove()
        db.engine.dispose()
    assert not wrong, "\n".join(wrong)


def test_no_page_gives_two_elements_one_id_with_its_csrf_inputs(app_config, world):
    """With CSRF protection on (as in production) a page with several forms renders
    several hidden token inputs: none of them may repeat an id."""
    guarded = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    with guarded.app_context():
        urls = [_fill(guarded, rule, world["own"])[0] for rule in _rules(guarded, "GET")
                if not rule.rule.startswith("/api/")]
    wrong, pages = [], 0
    # Outside an app context: one around the requests would keep the first signed-in
    # person for all of them.
    for who in ("admin", "yuzhong_admin", "station_head", "branch_secretary", "rider1"):
        client = guarded.test_client()
        _guarded_sign_in(client, who)
        for url in urls:
            with client.get(url) as answer:
                if answer.status_code == 200 and answer.mimetype == "text/html":
                    pages += 1
                    twice = _repeated_ids(answer.get_data(as_text=True))
                    if twice:
                        wrong.append(f"{who} GET {url}: {twice}")
    with guarded.app_context():
        db.session.remove()
        db.engine.dispose()
    assert pages > 50
    assert not wrong, "\n".join(wrong)


_LINK = re.compile(r'<a\b[^>]*\bhref="(/[^"#]*)"')


def _menu_links(html: str) -> set[str]:
    """The links of the navigation bar and of the home page's cards."""
    nav = html.split("<nav", 1)[1].split("</nav>", 1)[0]
    cards = re.findall(r'<a class="card[^"]*uf-card"[^>]*>', html)
    return set(_LINK.findall(nav)) | {h for card in cards for h in _LINK.findall(card)}


def test_every_menu_link_opens_for_the_person_it_is_shown_to(client, demo):
    """A link is shown exactly when its page opens: no menu entry ends in 403."""
    wrong, shown = [], {}
    for who in PEOPLE:
        _sign_in(client, who)
        links = _menu_links(client.get("/").get_data(as_text=True))
        shown[who] = links
        for link in sorted(links):
            status = client.get(link, follow_redirects=True).status_code
            if status != 200:
                wrong.append(f"{who}: {link} → {status}")
    assert not wrong, "\n".join(wrong)
    # ...and the check can fail: the administrator pages are in some menus, not in all.
    assert "/admin/instances" in shown["yuzhong_admin"] and "/admin/units" in shown["admin"]
    for who in ("station_head", "branch_secretary", "rider1"):
        assert not {"/admin/instances", "/admin/units"} & shown[who], who
