"""Random input into every form of the app: each process start form built from its
definition, and every other form route found in ``app.url_map`` (sign-in, decisions,
comments, delegation, slots, quotas, attendance, settings, the definitions editor, the
admin forms) — so a form added later is fuzzed too.

Values are nasty on purpose: NUL, lone surrogates and invalid UTF-8, huge strings,
right-to-left marks, emoji, numbers far out of range, dates that do not exist, markup;
fields go missing, appear twice, or are made up.  Every answer is below 500, and a
refused submission (4xx) leaves every table as it was: nothing saved half-way.
"""
from __future__ import annotations

import re
from urllib.parse import quote_from_bytes

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.hardening.test_page_matrix import _fill, _rules
from tests.webapp.test_pages import task_id_of, submit_wish
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.processes.helpers import form_class
from webapp.services import workflow as wf
from webapp.services.users import find_user

PASSWORD = "demo-pass-2026"
FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(FUZZ, max_examples=10)

SPECIAL = [b"\x00", b"a\x00b", b"\xed\xa0\x80", b"\xff\xfe\xfd", "\u202egnp.exe".encode(),
           "مرحبا بالعالم".encode(), ("😀" * 300).encode(), b"<script>alert(1)</script>",
           b"' OR 1=1 --", b"9" * 400, b"-1", b"0", b"-0", b"1e309", b"NaN", b"Infinity",
           b"2026-02-30", b"2026-13-01T25:61", b"99999-01-01", b"..", b" ", b"\t\r\n",
           b"on", b"true", b"[]", b"{}", b"%s%n", "汉".encode() * 70000, b"x" * 300000]
VALUES = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=60).map(lambda s: s.encode("utf-8")),
    st.integers(min_value=-2**80, max_value=2**80).map(lambda n: str(n).encode()),
    st.binary(max_size=40),
)


def form_body(fields: dict[str, list[bytes]]) -> bytes:
    """application/x-www-form-urlencoded from raw bytes (a browser can send any)."""
    return "&".join(f"{quote_from_bytes(k.encode())}={quote_from_bytes(v)}"
                    for k, values in fields.items() for v in values).encode("ascii")


def submissions(names: list[str]):
    """Some of ``names`` (each missing, once or twice) plus made-up ones."""
    known = st.dictionaries(st.sampled_from(names), st.lists(VALUES, min_size=0, max_size=2),
                            max_size=len(names)) if names else st.just({})
    made_up = st.dictionaries(st.text(min_size=1, max_size=12), st.lists(VALUES, max_size=1),
                              max_size=2)
    return st.tuples(known, made_up).map(lambda kv: {**kv[1], **kv[0]})


def row_counts() -> dict[str, int]:
    db.session.rollback()
    return {table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def sign_in(client, who):
    client.post("/auth/logout")
    if who:
        assert client.post("/auth/login", data={"username": who,
                                                "password": PASSWORD}).status_code == 302


def fuzz(client, url: str, names: list[str], config=FUZZ, csrf: str | None = None):
    problems = []

    @config
    @given(submissions(names))
    def run(fields):
        before = row_counts()
        answer = client.post(url, data=form_body(fields),
                             content_type="application/x-www-form-urlencoded")
        if answer.status_code >= 500:
            problems.append(f"{url} → {answer.status_code} for {sorted(fields)}")
        elif answer.status_code >= 400:
            after = row_counts()
            changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
            if changed:
                problems.append(f"{url} → {answer.status_code} yet {changed}")
        assert not problems, problems[-1]

    run()


def test_every_process_start_form_takes_any_input_without_harm(app, client, demo):
    starters = ["rider1", "volunteer1", "unit_admin", "branch_secretary", "station_head",
                "yuzhong_admin"]
    keys = [d.key for d in db.session.scalars(select(wf.ProcessDefinition))]
    assert len(keys) >= 5
    for key in keys:
        who = next((u for u in starters if key in {d.key for d, _spec in
                                                   wf.startable_processes(find_user(u))}),
                   None)
        assert who, f"nobody in the demo may start {key}"
        spec = wf.spec_of(wf.current_version(key))
        with app.test_request_context():
            names = [f.name for f in form_class(spec.start.form)()
                     if f.name != "csrf_token"]
        sign_in(client, who)
        fuzz(client, f"/processes/{key}/start", names)


# Who fills each kind of form (by URL prefix); the rest is the platform administrator.
FILLERS = [("/processes/", "rider1"), ("/instances/", "rider1"), ("/tasks/", "station_head"),
           ("/courses/", "unit_admin"), ("/retreat/", "city_admin"),
           ("/account/", "rider1"), ("/notifications/", "rider1"), ("/auth/", None),
           ("/stations/", "station_head")]
SKIP = {"auth.logout", "processes.start"}  # signs the fuzzer out; fuzzed per process above
COMMON = ["action", "comment", "text", "to", "username", "amount", "present", "locale", "next",
          "password", "remember", "source", "file", "capacity", "starts_at", "ends_at",
          "email_enabled", "quiet_from", "quiet_until", "branch", "task_ids"]


def _names_on(client, url: str) -> list[str]:
    page = client.get(url)
    if page.status_code != 200 or not page.mimetype == "text/html":
        return []
    return sorted(set(re.findall(r'name="([^"]+)"', page.get_data(as_text=True)))
                  - {"csrf_token", "viewport"})


def test_every_other_form_route_takes_any_input_without_harm(app, client, demo):
    sign_in(client, "rider1")
    instance_id = submit_wish(client)
    values = {"instance_id": instance_id, "task_id": task_id_of(instance_id),
              "key": "micro_wish", "number": 1}
    from webapp.services.org import unit_by_code
    from webapp.models import Course, CourseSession, Pairing, RetreatBatch

    values.update(unit_id=unit_by_code("st-jfb").id,
                  course_id=db.session.scalar(select(Course.id).order_by(Course.id)),
                  batch_id=db.session.scalar(select(RetreatBatch.id)),
                  pairing_id=db.session.scalar(select(Pairing.id)),
                  notification_id=1, delivery_id=1)
    # The people pages work on someone other than the signed-in fuzzer (id 1 would be the
    # platform administrator: a fuzzed password reset would lock the fuzzer out).
    target = find_user("courier1")
    values.update(user_id=target.id, membership_id=target.memberships[0].id,
                  session_id=db.session.scalar(select(CourseSession.id).where(
                      CourseSession.course_id == values["course_id"]).order_by(
                      CourseSession.starts_at.desc())))
    fuzzed = []
    for rule in _rules(app, "POST"):
        if rule.rule.startswith("/api/") or rule.endpoint in SKIP:
            continue
        url, _scoped = _fill(app, rule, values)
        who = next((w for prefix, w in FILLERS if rule.rule.startswith(prefix)), "admin")
        sign_in(client, who)
        names = (_names_on(client, url) if "GET" in rule.methods else []) or COMMON
        fuzz(client, url, names, FEW)
        fuzzed.append(rule.endpoint)
    assert {"auth.login", "tasks.task", "processes.comment", "definitions.new",
            "admin.import_stations", "retreat.allocate"} <= set(fuzzed)
