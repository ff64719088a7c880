"""The audit log: entries sealed into a hash chain at commit, append-only in the database,
`flask audit verify` finding the first broken link, the hooks, and the scoped viewer."""
from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError

from tests.webapp.test_workflow_service import NOW, act, demo, wish_data  # noqa: F401
from webapp.database import write_lock
from webapp.extensions import db
from webapp.models import AuditEntry, Instance
from webapp.services import audit, tokens
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code
from webapp.services.station_import import import_stations
from webapp.services.users import find_user

DEMO_PASSWORD = "demo-pass-2026"


def entries(**where) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.seq)
    for name, value in where.items():
        stmt = stmt.where(getattr(AuditEntry, name) == value)
    return list(db.session.scalars(stmt))


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def tamper(sql: str, **params) -> None:
    """Run ``sql`` with the append-only trigger out of the way, as an intruder with the
    database owner's rights would."""
    db.session.rollback()  # the test's own reads end here: verify then sees the change
    with db.engine.begin() as conn:
        if is_postgres():
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(sql), params)
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_entries_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_entries_no_delete")
            conn.execute(text(sql), params)


def three_entries(org):
    with write_lock():
        for n in range(3):
            audit.record(None, "test.action", ("thing", n), {"n": None}, {"n": n},
                         unit=org["yz"])
    db.session.commit()


# ---------------------------------------------------------------------------- the chain

def test_entries_are_sealed_into_a_chain_when_the_transaction_commits(app, org):
    three_entries(org)
    rows = entries(action="test.action")
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == audit.GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert all(r.hash == audit.entry_hash(r, r.prev_hash) for r in rows)
    assert audit.verify().ok and audit.verify().count == 3


@pytest.mark.parametrize("per_transaction,total", [(1, 6), (2, 6), (audit.SEAL_IN_SQL + 1,
                                                                  audit.SEAL_IN_SQL + 1)])
def test_entries_sealed_by_the_database_hash_as_entry_hash_does(app, per_transaction, total):
    """On PostgreSQL a transaction's entries (a step records two) are sealed by one
    INSERT that takes the chain's lock and head and chains and hashes them in SQL:
    whatever the content holds, each hash is ``entry_hash``'s and the first entry links
    to the genesis hash.  Many at once (an import) are chained in Python, as before."""
    from sqlalchemy import event

    odd = {"text": '引号"与\\反斜杠\n换行\t 😀 \u2028 \u00e9', "nested": {
        "list": [1, 2.5, None, True, "二"], "empty": ""}, "big": 10 ** 15}
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for n in range(0, total, per_transaction):
            with write_lock():
                for m in range(n, n + per_transaction):
                    audit.record(None, "test.single", ("thing", m), {"n": m - 1},
                                 {**odd, "n": m}, unit=None)
                db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    rows = entries(action="test.single")
    assert [r.seq for r in rows] == list(range(1, total + 1))
    assert rows[0].prev_hash == audit.GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert all(r.hash == audit.entry_hash(r, r.prev_hash) for r in rows)
    assert [int(r.object_id) for r in rows] == list(range(total))  # in the order recorded
    assert rows[2].after["text"] == odd["text"] and rows[2].after["big"] == 10 ** 15
    assert audit.verify().ok and audit.verify().count == total
    heads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    if is_postgres() and per_transaction <= audit.SEAL_IN_SQL:
        assert sum("audit_entries" in s for s in seen) == total // per_transaction
        assert not heads  # one INSERT a transaction, nothing else
    elif is_postgres():
        assert len(heads) == 1 and "audit_chain_head" in heads[0]


def test_an_entry_rolls_back_with_the_change_it_describes(app, org):
    with write_lock():
        audit.record(None, "test.action", ("thing", 1), {}, {"n": 1})
    db.session.rollback()
    with write_lock():
        with db.session.begin_nested() as savepoint:
            audit.record(None, "test.action", ("thing", 2), {}, {"n": 2})
            savepoint.rollback()
        audit.record(None, "test.action", ("thing", 3), {}, {"n": 3})
    db.session.commit()
    rows = entries(action="test.action")
    assert [(r.seq, r.object_id) for r in rows] == [(1, "3")]  # no gap, no ghost


def test_only_what_changed_is_kept_and_secrets_never(app, org):
    with write_lock():
        entry = audit.record(None, "test.action", ("thing", 1),
                             {"a": 1, "b": "same", "password": "old-secret"},
                             {"a": 2, "b": "same", "c": None, "nested": {"token": "t0p",
                                                                        "ok": True}})
    db.session.commit()
    assert entry.before == {"a": 1}
    assert entry.after == {"a": 2, "nested": {"ok": True}}


def test_the_table_refuses_update_and_delete(app, org):
    three_entries(org)
    for sql in ("UPDATE audit_entries SET action = 'forged' WHERE seq = 2",
                "DELETE FROM audit_entries WHERE seq = 3"):
        with pytest.raises(DBAPIError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(text(sql))
    assert [r.action for r in entries()] == ["test.action"] * 3


def test_verify_reports_ok_with_the_count_and_head(runner, org):
    three_entries(org)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    head = entries()[-1]
    assert "OK: 3 audit entries" in result.output and f"3:{head.hash}" in result.output


def test_verify_finds_an_entry_changed_in_place(runner, org):
    three_entries(org)
    tamper("UPDATE audit_entries SET after = :after WHERE seq = 2",
           after=json.dumps({"n": 99}))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at entry 2" in result.output and "changed after it was written" in result.output
    assert "first 1 entries are intact" in result.output


def test_verify_finds_a_rehashed_entry_by_the_next_link(runner, org):
    three_entries(org)
    forged = {**{c: getattr(entries()[1], c) for c in (
        "seq", "at", "actor_id", "action", "object_type", "object_id", "unit_path")},
              "before": {"n": None}, "after": {"n": 99}}
    new_hash = audit.entry_hash(forged, entries()[0].hash)
    tamper("UPDATE audit_entries SET after = :after, hash = :hash WHERE seq = 2",
           after=json.dumps({"n": 99}), hash=new_hash)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at entry 3" in result.output and "does not link to entry 2" in result.output


def test_verify_finds_a_deleted_entry(runner, org):
    three_entries(org)
    tamper("DELETE FROM audit_entries WHERE seq = 2")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "entry 2 is missing" in result.output


def test_an_anchor_catches_a_rewritten_or_shortened_chain(runner, org):
    three_entries(org)
    anchor = f"3:{entries()[-1].hash}"
    assert runner.invoke(args=["audit", "verify", "--anchor", anchor]).exit_code == 0
    tamper("DELETE FROM audit_entries WHERE seq = 3")  # cutting the tail leaves a sound chain
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    result = runner.invoke(args=["audit", "verify", "--anchor", anchor])
    assert result.exit_code == 1 and "entry 3 (anchored) is missing" in result.output
    bad = runner.invoke(args=["audit", "verify", "--anchor", "three:abc"])
    assert bad.exit_code == 2 and "SEQ:HASH" in bad.output


def test_concurrent_writers_never_fork_the_chain(app, org):
    """Real connections committing at once each get their own place in the chain."""
    if not is_postgres():
        pytest.skip("SQLite lets one writer at a time in; the race needs PostgreSQL")
    writers, barrier, errors = 12, threading.Barrier(12, timeout=30), []

    def write(n: int) -> None:
        try:
            with app.app_context():
                audit.record(None, "test.race", ("thing", n), {}, {"n": n})
                db.session.flush()  # every writer has its row in before anyone commits
                barrier.wait()
                db.session.commit()
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    db.session.expire_all()
    rows = entries(action="test.race")
    assert [r.seq for r in rows] == list(range(1, writers + 1))
    assert sorted(int(r.object_id) for r in rows) == list(range(writers))
    result = audit.verify()
    assert result.ok and result.count == writers


# ---------------------------------------------------------------------------- the hooks

def test_every_kind_of_change_is_logged_with_its_actor(demo, client):
    seeded = {a for (a,) in db.session.execute(select(AuditEntry.action).distinct())}
    assert {"user.create", "membership.grant", "definition.publish",
            "quota.allocate"} <= seeded
    rider, head = demo["rider1"], demo["station_head"]
    instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()
    act(instance, "approve", head, comment="核实无误")
    submit = entries(action="instance.submit", object_id=str(instance.id))[0]
    assert submit.actor_id == rider.id and submit.object_type == "instance"
    assert submit.after["title"] == "一个新头盔" and submit.unit_path == instance.unit_path
    approve = entries(action="instance.approve", object_id=str(instance.id))[0]
    assert approve.actor_id == head.id and approve.after["comment"] == "核实无误"
    last = entries(object_id=str(instance.id), object_type="instance")[-1]
    assert last.before["steps"] == ["verify"] and last.after["steps"] == ["wall"]
    assert "status" not in last.after  # still running: only what changed is logged
    assert audit.verify().ok


def test_tokens_and_retirement_are_logged_without_the_token(demo, client):
    rider = demo["rider1"]
    with write_lock():
        raw, row = tokens.issue(rider)
        tokens.revoke(row)
        wf.set_retired("micro_wish", True, actor=demo["city_admin"])
    db.session.commit()
    issued, = entries(action="token.issue")
    assert issued.actor_id == rider.id and issued.object_id == str(row.id)
    assert entries(action="token.revoke")[0].after["revoked_at"]
    assert raw not in json.dumps([[e.before, e.after] for e in entries()])
    assert row.digest not in json.dumps([[e.before, e.after] for e in entries()])
    retired, = entries(action="definition.retire")
    assert retired.actor_id == demo["city_admin"].id and retired.after == {"retired": True}


def test_a_dry_run_import_logs_nothing_and_a_real_one_logs_each_station(demo):
    before = db.session.scalar(select(func.count(AuditEntry.id)))
    csv = ("编码,名称,区县,上级单位编码,充电桩\nst-new,新驿站,渝中区,,2\n"
           "st-jfb,解放碑户外劳动者驿站,渝中区,cq-yz-jfb,9\n")
    admin = find_user("city_admin")
    with write_lock():
        import_stations(csv.encode(), admin, dry_run=True)
    db.session.commit()
    assert db.session.scalar(select(func.count(AuditEntry.id))) == before
    with write_lock():
        import_stations(csv.encode(), admin)
    db.session.commit()
    created, updated = entries(action="station.import", actor_id=admin.id)
    assert created.object_id == str(unit_by_code("st-new").id) and created.before == {}
    assert created.after["charging_piles"] == 2
    assert updated.before["charging_piles"] == 6 and updated.after["charging_piles"] == 9
    assert "name" not in updated.after  # unchanged fields are not logged


def test_quota_pages_log_who_handed_places_down(demo, client):
    from webapp.models import RetreatBatch, RetreatQuota

    batch = db.session.scalars(select(RetreatBatch)).first()
    quota = db.session.scalar(select(RetreatQuota).where(
        RetreatQuota.batch_id == batch.id, RetreatQuota.unit_id == unit_by_code("cq-yz").id))
    client.post("/auth/login", data={"username": "city_admin", "password": DEMO_PASSWORD})
    unit_id = quota.unit_id
    r = client.post(f"/retreat/quotas/{batch.id}/units/{unit_id}",
                    data={f"u{unit_id}-amount": quota.amount + 1})
    assert r.status_code == 302
    entry = entries(action="quota.allocate", actor_id=demo["city_admin"].id)[-1]
    assert entry.after["amount"] == entry.before["amount"] + 1
    assert entry.unit_path == unit_by_code("cq-yz").path


# ---------------------------------------------------------------------------- the viewer

def sign_in(client, username):
    client.post("/auth/logout")
    r = client.post("/auth/login", data={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 302


def test_viewers_see_their_part_of_the_tree_only(demo, client):
    sign_in(client, "jiangbei_admin")
    page = client.get("/admin/audit?action=user.create").get_data(as_text=True)
    assert "driver1" in page and "rider1" not in page  # 渝中区 is not theirs
    sign_in(client, "city_admin")
    page = client.get("/admin/audit?action=user.create").get_data(as_text=True)
    assert "driver1" in page and "rider1" in page
    page = client.get("/admin/audit?action=definition.publish").get_data(as_text=True)
    assert "micro_wish v1" not in page and "共 0 条" in page
    sign_in(client, "admin")  # platform-wide entries are the platform administrators'
    page = client.get("/admin/audit?action=definition.publish").get_data(as_text=True)
    assert "micro_wish v1" in page
    for username in ("rider1", "volunteer1", "unit_admin", "station_head"):
        sign_in(client, username)
        assert client.get("/admin/audit").status_code == 403


def test_personal_data_is_masked_for_those_who_may_not_see_it(demo, client):
    with write_lock():
        from webapp.services.users import create_user

        create_user("newbie", "a-long-password", "新人", unit=unit_by_code("cq-yz-jfb"),
                    phone="13912345678", email="newbie@example.com",
                    actor=find_user("yuzhong_admin"))
    db.session.commit()
    sign_in(client, "yuzhong_admin")
    page = client.get("/admin/audit?actor=yuzhong_admin").get_data(as_text=True)
    assert "13912345678" in page and "newbie@example.com" in page
    sign_in(client, "supervisor")  # reads decisions, not people's contact details
    page = client.get("/admin/audit?actor=YUZHONG_ADMIN").get_data(as_text=True)
    assert "newbie" in page and "13912345678" not in page and "139****5678" in page
    assert "newbie@example.com" not in page and "n***@example.com" in page


def test_the_viewer_filters_and_links_to_the_request(demo, client):
    rider = demo["rider1"]
    instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()
    act(instance, "approve", demo["station_head"])
    sign_in(client, "yuzhong_admin")
    page = client.get(f"/admin/audit?object_type=instance&object_id={instance.id}").get_data(
        as_text=True)
    assert f'href="/instances/{instance.id}"' in page
    assert "事项 · 提交申请" in page and "事项 · 通过" in page and "一个新头盔" in page
    assert "13800138000" in page  # the district oversees the request: it sees its data
    # Choice keys and unit ids read as the form shows them, not as stored.
    entry = page.split("uf-audit-entry")[-1]  # the oldest: the request's start
    assert "物品" in entry and ">goods<" not in page
    assert "解放碑" in entry and f">{unit_by_code('st-jfb').id}<" not in page
    only_approve = client.get(f"/admin/audit?action=instance.approve&actor=station_head"
                              f"&object_id={instance.id}").get_data(as_text=True)
    assert only_approve.count("uf-audit-entry") == 1
    future = client.get("/admin/audit?since=2099-01-01").get_data(as_text=True)
    assert future.count("uf-audit-entry") == 0 and "没有符合条件的记录" in future


def test_bad_filters_get_a_message_not_an_error(demo, client):
    sign_in(client, "city_admin")
    r = client.get("/admin/audit?since=31/12/2026&object_id=abc&action=drop+table"
                   "&until=2026-01-01")
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "请按 年-月-日 填写日期" in page and "编号应为数字" in page and "没有这种操作" in page
    r = client.get("/admin/audit?since=2026-05-01&until=2026-01-01&page=999999999999")
    assert r.status_code == 422 and "截止日期不能早于起始日期" in r.get_data(as_text=True)


def test_english_names_each_action_as_what_happened(demo, client):
    """The log says "User created", "Role granted"; the pages' buttons keep their own
    words for the same Chinese ("Create a user")."""
    from webapp.services.audit_view import ACTIONS

    find_user("city_admin").locale = "en"
    db.session.commit()
    sign_in(client, "city_admin")
    page = client.get("/admin/audit?action=user.create").get_data(as_text=True)
    assert "User created" in page and "Role granted" in page and "Create a user" not in page
    entry_names = re.findall(r'<option value="([a-z_.]+)"[^>]*>([^<]+)</option>', page)
    named = {key: name for key, name in entry_names if key in ACTIONS and key != "instance."}
    assert len(named) == len(ACTIONS) - 1, named
    # All in one grammar: "<something> <past participle>", none an order to do it.
    for key, name in named.items():
        assert re.fullmatch(r"[A-Z][\w ]* (created|changed|deactivated|reactivated|reset|"
                            r"granted|revoked|imported|published|retired|reinstated|issued|"
                            r"handed down|given back|added|removed|ended)", name), (key, name)
    assert "Create a user" in client.get("/admin/users").get_data(as_text=True)


def test_the_viewer_pages_through_entries(demo, client):
    sign_in(client, "admin")
    total = db.session.scalar(select(func.count(AuditEntry.id)))
    first = client.get("/admin/audit").get_data(as_text=True)
    assert first.count("uf-audit-entry") == 30 and f"共 {total} 条" in first
    newest = db.session.scalar(select(func.max(AuditEntry.seq)))
    assert f"#{newest}<" in first
    second = client.get("/admin/audit?page=2").get_data(as_text=True)
    assert f"#{newest - 30}<" in second and f"#{newest}<" not in second


@pytest.mark.parametrize("username", ["admin", "supervisor", "city_admin", "yuzhong_admin"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_viewer_downloads_the_whole_log(demo, client, username, fmt):
    """The download streams after the view returned: the viewer's roles and units must
    still be readable then (the platform administrator's file broke after its header)."""
    import csv
    import io

    from openpyxl import load_workbook

    sign_in(client, username)
    shown = client.get("/admin/audit").get_data(as_text=True)
    total = int(re.search(r"共 (\d+) 条", shown).group(1))
    assert total > 0
    got = client.get(f"/admin/audit?format={fmt}")
    assert got.status_code == 200
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(got.get_data(as_text=True).lstrip("\ufeff"))))
    else:
        rows = list(load_workbook(io.BytesIO(got.get_data()), read_only=True).active.values)
    assert len(rows) == total + 1  # the header and every entry


@pytest.mark.parametrize("locale, granted, role", [("zh_CN", "已获得名额", "职工"),
                                                   ("en", "Place granted", "Worker")])
def test_the_log_reads_names_not_codes_ids_or_json(app, runner, client, locale, granted, role):
    """A supervisor must tell from the log who a request was escalated to and which
    places were booked: people, units, roles, places and languages by their names."""
    from html import unescape

    app.config["DEMO_PASSWORD"] = "demo-pass-2026"
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    db.session.execute(text("UPDATE users SET locale = :l WHERE username = 'city_admin'"),
                       {"l": locale})
    db.session.commit()
    # A token issued: its entry holds the moment it expires.
    assert client.post("/api/v1/tokens", json={"username": "city_admin",
                                               "password": "demo-pass-2026"}).status_code == 201
    client.post("/auth/login", data={"username": "city_admin", "password": "demo-pass-2026"})
    pages = []
    for number in range(1, 40):
        html = client.get(f"/admin/audit?page={number}").get_data(as_text=True)
        if "uf-audit-entry" not in html:
            break
        pages.append(unescape(re.sub(r"<[^>]+>", " ", html)))
    log = "\n".join(pages)
    assert len(pages) > 3
    assert "retreat:" not in log and "course:" not in log and "slot:" not in log
    assert '{"' not in log and '["' not in log  # no JSON shown raw
    assert granted in log and role in log
    # Role keys and a language code shown raw, as a change ("角色 — worker") or in what a
    # role entry is about ("角色 · rider1 · worker"; station_head is a username too).
    assert not re.search(r"(角色|Role|语言|Language)\s+(?!·)(\S+\s+)?(worker|volunteer|"
                         r"station_head|unit_admin|zh_CN)\b", log)
    assert not re.search(r"·\s+(worker|volunteer)\b", log)
    # Moments in China time like every other time shown, not as stored (ISO, UTC).
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", log)


def test_imports_units_attendance_and_publishing_read_as_what_they_are(demo, client):
    """An import is its own entry (one person's imports told apart, by the file's digest);
    a unit's kind reads as a word, not a key; a course register's counts as counts; a
    published version keeps its content digest."""
    import hashlib
    from html import unescape

    from webapp.services.audit_view import _attended
    from webapp.services.people_import import import_people

    yz = find_user("yuzhong_admin")
    files = ["code,name,kind,parent\ncq-yz-a1,甲街道工会,street,cq-yz\n",
             "code,name,kind,parent\ncq-yz-a2,乙街道工会,street,cq-yz\n"]
    for data in files:
        with write_lock():
            import_people(data.encode(), yz, dry_run=False)
        db.session.commit()
    first, second = entries(action="unit.import", actor_id=yz.id)
    assert first.object_id != second.object_id
    digest = hashlib.sha256(files[0].encode()).hexdigest()
    assert first.object_id.startswith(digest[:12]) and first.after["file_digest"] == digest
    sign_in(client, "yuzhong_admin")
    page = unescape(re.sub(r"<[^>]+>", " ", client.get(
        "/admin/audit?action=unit.import").get_data(as_text=True)))
    assert f"单位导入 · {digest[:12]}" in page and f"单位导入 #{yz.id}" not in page
    page = unescape(re.sub(r"<[^>]+>", " ", client.get(
        "/admin/audit?action=unit.create").get_data(as_text=True)))
    assert "甲街道工会" in page and "街道" in page.replace("甲街道工会", "")
    assert not re.search(r"类型\s+—\s+street", page)
    # A published version: its digest is kept (the log drops any member named "digest").
    publish = entries(action="definition.publish")[0]
    assert len(publish.after["content_digest"]) == 64
    with client.application.test_request_context():
        assert _attended({"attended": 1, "total": 3, "rate": 33}, "zh") == \
            "到课 1 次 / 共 3 次（33%）"


@pytest.mark.parametrize("locale, said, raw", [("zh_CN", "交给：申请人", "交给：applicant"),
                                               ("en", "To: Applicant", "To: applicant")])
def test_a_return_names_whom_it_went_back_to(demo, client, locale, said, raw):
    from html import unescape

    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    act(instance, "return", demo["station_head"], comment="请补充照片")
    find_user("yuzhong_admin").locale = locale
    db.session.commit()
    sign_in(client, "yuzhong_admin")
    page = unescape(client.get(f"/admin/audit?action=instance.return&object_id={instance.id}")
                    .get_data(as_text=True))
    assert page.count("uf-audit-entry") == 1
    assert said in page and raw not in page and "applicant<" not in page


# ---------------------------------------------------------------- verifying from the page

def run_queued_jobs(app) -> None:
    """What a worker does: take the jobs queued (tests run them themselves)."""
    from webapp.queue import EmbeddedWorker, runtime

    rt = runtime(app)
    EmbeddedWorker([rt.queue()], connection=rt.connection).work(burst=True,
                                                                logging_level="WARNING")


def chain_facts() -> tuple:
    db.session.rollback()
    return (db.session.scalar(select(func.count(AuditEntry.id))),
            db.session.scalar(select(func.max(AuditEntry.seq))))


def start_verifying(client, **form) -> str:
    r = client.post("/admin/audit/verify", data=form)
    assert r.status_code == 303, r.get_data(as_text=True)
    assert re.fullmatch(r"/admin/audit/verify/[0-9a-f]{16}", r.headers["Location"])
    return r.headers["Location"]


def test_a_supervisor_verifies_the_chain_from_the_log_page(demo, app, client):
    """The same check as `flask audit verify`, started with a POST, run as a job, its
    result on its own page and on the log's: intact up to N with head H, when, by whom.
    It changes nothing in the database; a GET starts nothing."""
    sign_in(client, "supervisor")
    page = client.get("/admin/audit").get_data(as_text=True)
    assert 'action="/admin/audit/verify"' in page and 'name="csrf_token"' in page
    assert client.get("/admin/audit/verify").status_code == 405  # a GET starts nothing
    before = chain_facts()
    expected = audit.verify()
    url = start_verifying(client)
    assert start_verifying(client) == url  # one at a time: a second start joins the first
    waiting = client.get(url).get_data(as_text=True)
    assert "校验已排队" in waiting and 'http-equiv="refresh"' in waiting
    run_queued_jobs(app)
    done = client.get(url).get_data(as_text=True)
    assert "哈希链完好" in done and 'http-equiv="refresh"' not in done
    assert f"第 1 至第 {expected.count} 条都未被改动" in done
    assert f"{expected.head_seq}:{expected.head_hash}" in done and "supervisor" in done
    assert re.search(r"校验于 \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", done)
    log_page = client.get("/admin/audit").get_data(as_text=True)
    assert "哈希链完好" in log_page and expected.head_hash in log_page
    assert chain_facts() == before  # nothing was written: no entry, no seal


def test_the_page_names_the_first_broken_entry_and_why(demo, app, client):
    victim = entries()[4]
    tamper("UPDATE audit_entries SET action = 'user.forged' WHERE id = :id", id=victim.id)
    sign_in(client, "city_admin")
    url = start_verifying(client)
    run_queued_jobs(app)
    page = client.get(url).get_data(as_text=True)
    assert f"哈希链在第 {victim.seq} 条断开" in page
    assert f"第 {victim.seq} 条在写入后被改动过：内容与它的哈希值不符" in page
    assert f"第 1 至第 {victim.seq - 1} 条完好" in page


def test_an_anchor_written_down_is_checked_and_a_bad_one_is_refused(demo, app, client):
    sign_in(client, "admin")
    r = client.post("/admin/audit/verify", data={"anchor": "12:abc"})
    assert r.status_code == 422 and "请按 编号:哈希值 填写" in r.get_data(as_text=True)
    url = start_verifying(client, anchor=f"3:{'0' * 64}")
    run_queued_jobs(app)
    page = client.get(url).get_data(as_text=True)
    assert "第 3 条已不是记下的那一条" in page
    head = audit.verify()
    url = start_verifying(client, anchor=f"{head.head_seq}:{head.head_hash.upper()}")
    run_queued_jobs(app)
    assert "哈希链完好" in client.get(url).get_data(as_text=True)


def test_only_viewers_of_the_log_may_verify_and_only_with_a_csrf_token(demo, app, client):
    sign_in(client, "unit_admin")
    assert client.post("/admin/audit/verify").status_code == 403
    assert client.get("/admin/audit/verify/0123456789abcdef").status_code == 403
    sign_in(client, "supervisor")
    assert client.get("/admin/audit/verify/0123456789abcdef").status_code == 404
    assert client.get("/admin/audit/verify/not-a-run").status_code == 404
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/admin/audit/verify").status_code == 400


def test_a_verification_that_fails_says_so_and_the_next_press_starts_anew(
        demo, app, client, monkeypatch):
    """The job dies part-way (a database error, a timeout): the run is marked failed —
    not "running" until it expires — and pressing again starts a new run."""
    sign_in(client, "supervisor")
    url = start_verifying(client)

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(audit, "verify", broken)
    run_queued_jobs(app)
    page = client.get(url).get_data(as_text=True)
    assert "校验未能完成" in page and 'http-equiv="refresh"' not in page
    assert 'action="/admin/audit/verify"' in page  # it may be pressed again
    assert "校验未能完成" in client.get("/admin/audit").get_data(as_text=True)
    monkeypatch.undo()
    again = start_verifying(client)
    assert again != url
    run_queued_jobs(app)
    assert "哈希链完好" in client.get(again).get_data(as_text=True)


def test_a_verification_page_without_its_queue_answers_in_words(demo, app, client,
                                                               monkeypatch):
    from redis.exceptions import ConnectionError as RedisDown

    from webapp.services import audit_check

    sign_in(client, "supervisor")
    url = start_verifying(client)

    def down():
        raise RedisDown("no answer")

    monkeypatch.setattr(audit_check, "_connection", down)
    r = client.get(url, follow_redirects=True)
    assert r.status_code == 200 and "校验结果暂时无法读取" in r.get_data(as_text=True)


def test_verify_tells_its_progress_as_it_goes(app, org):
    for _ in range(4):
        three_entries(org)
    seen = []
    result = audit.verify(batch=5, progress=seen.append, every=5)
    assert result.ok and seen == [5, 10]


# ---------------------------------------------------------------- an export checked alone

def recompute_chain(rows: list[dict]) -> list[str]:
    """docs/audit.md, "Checking an export", followed to the letter: the problems found."""
    import hashlib
    from datetime import datetime as moment
    from datetime import timezone as zone

    problems, prev, last = [], "0" * 64, 0
    for row in sorted(rows, key=lambda r: int(r["seq"])):
        seq = int(row["seq"])
        if seq != last + 1:
            problems.append(f"{last + 1} missing")
        if row["prev_hash"] != prev:
            problems.append(f"{seq} unlinked")
        at = moment.fromisoformat(row["at"]).astimezone(zone.utc)
        body = {"seq": seq, "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "actor_id": int(row["actor_id"]) if row["actor_id"] else None,
                "action": row["action"], "object_type": row["object_type"],
                "object_id": row["object_id"], "unit_path": row["unit_path"],
                "before": json.loads(row["before"]), "after": json.loads(row["after"]),
                "prev_hash": row["prev_hash"]}
        text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        if row["masked"] == "0" and hashlib.sha256(text.encode("utf-8")).hexdigest() != \
                row["hash"]:
            problems.append(f"{seq} changed")
        prev, last = row["hash"], seq
    return problems


def exported(client) -> list[dict]:
    import csv
    import io

    got = client.get("/admin/audit?format=csv")
    assert got.status_code == 200
    table = list(csv.reader(io.StringIO(got.get_data(as_text=True).lstrip("\ufeff"))))
    names = {"编号": "seq", "时间": "at", "操作人": "actor"}
    header = [names.get(h, h) for h in table[0]]
    assert header == ["seq", "at", "actor", "操作", "对象", "改动", "actor_id", "action",
                      "object_type", "object_id", "unit_path", "before", "after", "masked",
                      "prev_hash", "hash"]
    return [dict(zip(header, row)) for row in table[1:]]


def test_an_export_lets_anyone_recompute_the_chain(demo, client):
    """The platform administrator's file holds the whole chain: every hash recomputes
    from its row by the documented recipe alone, times to the second with their offset,
    the system named as on the page; a row changed in the file is caught."""
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    act(instance, "approve", demo["station_head"])
    sign_in(client, "admin")
    rows = exported(client)
    assert len(rows) == db.session.scalar(select(func.count(AuditEntry.id)))
    assert int(rows[0]["seq"]) > int(rows[-1]["seq"])  # newest first, as on the page
    assert all(r["masked"] == "0" for r in rows)
    assert recompute_chain(rows) == []
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+08:00", r["at"])
               for r in rows)
    assert {r["actor"] for r in rows if not r["actor_id"]} == {"系统"}
    one = next(r for r in rows if r["action"] == "instance.approve")
    one["object_id"] = str(int(one["object_id"]) + 1)  # "it was about another request"
    assert recompute_chain(rows) == [f"{one['seq']} changed"]


def test_an_export_marks_the_rows_masked_for_its_reader(demo, client):
    """A supervisor does not see account phone numbers: those rows say so (their hash
    cannot be recomputed from the file); every other row still can."""
    with write_lock():
        from webapp.services.users import create_user

        create_user("newbie", "a-long-password", "新人", unit=unit_by_code("cq-yz-jfb"),
                    phone="13912345678", actor=find_user("yuzhong_admin"))
    db.session.commit()
    sign_in(client, "supervisor")
    rows = exported(client)
    newbie = next(r for r in rows if r["action"] == "user.create" and "newbie" in r["after"])
    assert newbie["masked"] == "1" and "13912345678" not in newbie["after"]
    assert any(r["masked"] == "0" for r in rows)
    # A supervisor's part of the tree, not the whole chain: links between the rows it
    # holds may skip entries, but each unmasked row's own hash recomputes.
    assert not [p for p in recompute_chain(rows) if p.endswith("changed")]


# ---------------------------------------------------------------- every key has a label

def test_every_key_the_app_writes_into_the_log_has_a_label_in_both_languages(app):
    """The keys of before/after: literal in the services' ``audit.record`` calls, the
    snapshots they pass, the request steps' (``record_instance``) and the engine's
    details — each reads as a word in Chinese and in English, never as the key."""
    import ast
    from pathlib import Path

    from flask_babel import force_locale

    from webapp.services import audit_view, station_import, training

    root = Path(__file__).resolve().parents[2]
    keys = set()
    for path in (root / "webapp").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "record" \
                    and getattr(node.func.value, "id", "") == "audit":
                for arg in node.args[3:5]:
                    if isinstance(arg, ast.Dict):
                        keys |= {k.value for k in arg.keys if isinstance(k, ast.Constant)}
    assert {"user", "role", "amount", "file_digest", "tokens_revoked"} <= keys  # found them
    keys |= set(training.COURSE_FIELDS) | {"unit"}  # training._snapshot
    keys |= {"name", "name_en", *station_import.ATTRS}  # station_import._audited
    keys |= {"display_name", "unit", "phone", "email", "locale"}  # people._snapshot
    keys |= {"status", "steps", "step", "comment", "details"}  # record_instance
    keys -= audit.SECRET_KEYS
    details = set()
    for path in (root / "workflows").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "log":
                details |= {k.arg for k in node.keywords if k.arg}
    details -= {"step", "task", "comment", "changes"}  # the entry's own, or not shown
    with app.test_request_context():
        for locale in ("zh_CN", "en"):
            with force_locale(locale):
                missing = [k for k in sorted(keys) if k not in audit_view.KEY_LABELS]
                missing += [f"details.{k}" for k in sorted(details)
                            if k not in audit_view.DETAIL_LABELS]
                assert missing == []
                for k in keys:
                    assert str(audit_view.KEY_LABELS[k]) != k
                for k in details:
                    assert str(audit_view.DETAIL_LABELS[k]) != k
                if locale == "en":  # translated, not the Chinese shown as it is
                    untranslated = [k for k in keys | {f"d.{d}" for d in details}
                                    if re.search(r"[\u4e00-\u9fff]", str(
                                        (audit_view.DETAIL_LABELS[k[2:]] if k.startswith("d.")
                                         else audit_view.KEY_LABELS[k])))]
                    assert untranslated == []


@pytest.mark.parametrize("locale, label", [("zh_CN", "出勤判定"), ("en", "Attendance check")])
def test_a_trainees_attendance_reads_as_the_step_not_its_key(demo, client, locale, label):
    """What an attendance step keeps under its own id (``attendance``: the counts) and
    a correction of it read as the step's name, in either language."""
    from html import unescape

    from tests.webapp.test_training import correct, decided_course

    def login(username):
        sign_in(client, username)
        return client

    course, ids = decided_course(login, {"rider1": 7})
    assert correct(login("unit_admin"), course, ids["rider1"], 8, "passed").status_code == 302
    find_user("city_admin").locale = locale
    db.session.commit()
    sign_in(client, "city_admin")
    shown = {}
    for action in ("instance.complete", "instance.correct"):
        page = unescape(client.get(f"/admin/audit?action={action}&object_id={ids['rider1']}")
                        .get_data(as_text=True))
        assert page.count("uf-audit-entry") == 1, action
        shown[action] = re.sub(r"<[^>]+>", " ", page)
        assert f'scope="row" class="fw-normal">{label}<' in page, action
        assert ">attendance<" not in page
    # The correction says what the result was before, by name, and nothing by its key.
    assert not re.search(r"(before|更改前)\s*[:：]\s*not_completed", shown["instance.correct"])
