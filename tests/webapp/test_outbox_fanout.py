"""One event to many people: written with a few set-based statements, delivered in
groups (one claim and one "sent" mark per group, one SMTP connection per group), and what
a crash in the middle of a group can repeat — at most the group, never a lost message."""
from __future__ import annotations

import email
import email.policy
import math
from collections import Counter
from datetime import datetime, time as clock, timedelta, timezone
from pathlib import Path
from types import MappingProxyType

import pytest
from sqlalchemy import event, func, select

from tests.webapp.test_workflow_service import NOW, demo, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.models import Delivery, Notification, NotificationSettings, User
from webapp.queue import runtime
from webapp.services import outbox
from webapp.services import workflow as wf
from workflows.effects import Notify


@pytest.fixture
def app_config(app_config, tmp_path, redis_url):
    # The test runs the jobs itself; on a real Redis when TEST_REDIS_URL is set.
    return {**app_config, "EMBEDDED_WORKER": False, "REDIS_URL": redis_url,
            "MAIL_OUTBOX": str(tmp_path / "outbox"), "DELIVERY_GROUP": 20}


class Statements:
    """Counts the SQL statements and the commits on the engine while it is open."""

    def __init__(self):
        self.sql: list[str] = []
        self.commits = 0

    def _execute(self, conn, cursor, statement, *args):
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb not in ("BEGIN", "SAVEPOINT", "RELEASE"):  # SQLite's explicit BEGIN
            self.sql.append(verb)

    def _commit(self, conn):
        self.commits += 1

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._execute)
        event.listen(db.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._execute)
        event.remove(db.engine, "commit", self._commit)


def people(count: int, prefix: str, **fields) -> list[User]:
    users = [User(username=f"{prefix}{i:04d}", display_name=f"职工{i}", password_hash="x",
                  email=f"{prefix}{i}@demo.unionflow.cn", **fields) for i in range(count)]
    db.session.add_all(users)
    db.session.flush()
    return users


def an_instance(demo):
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    return instance


def fan_out(instance, recipients, now=NOW, kind="escalated", spec=None):
    """What the engine does for a Notify effect to ``recipients`` (the real ``_notify``)."""
    spec = spec or wf.spec_of_instance(instance)
    effect = Notify(recipients=tuple(recipients), kind=kind, instance=instance.id,
                    task="verify", title_key=kind,
                    params=MappingProxyType({"step_name": "驿站核实",
                                             "step_name_en": "Station check"}))
    wf._notify(instance, wf._notification(spec, effect, now), now)
    outbox.queue_new()


def test_fanning_out_writes_with_a_fixed_number_of_statements_and_no_orm_objects(app, demo):
    instance = an_instance(demo)
    small, large = people(20, "s"), people(400, "l")
    made = Counter()

    def pending(session, obj):
        made[type(obj).__name__] += 1

    spec = wf.spec_of_instance(instance)
    event.listen(db.session(), "transient_to_pending", pending)
    try:
        with Statements() as few:
            fan_out(instance, [u.id for u in small], spec=spec)
        with Statements() as many:
            fan_out(instance, [u.id for u in large], spec=spec)
    finally:
        event.remove(db.session(), "transient_to_pending", pending)
    # The same statements for 20 people as for 400: no statement per person.
    assert many.sql == few.sql and len(many.sql) <= 8, (few.sql, many.sql[:12], len(many.sql))
    # The notifications (PostgreSQL: written and their people read in one WITH), the
    # outbox rows (all alike).
    postgresql = db.engine.dialect.name == "postgresql"
    assert many.sql == (["WITH", "INSERT"] if postgresql else ["INSERT", "SELECT", "INSERT"])
    assert not made, made  # no Notification or Delivery objects in the unit of work
    rt = runtime(app)
    before = rt.queue().count
    db.session.commit()
    assert rt.queue().count - before == 1 + 4  # jobs of outbox.BATCH, after the commit
    notes = db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id.in_([u.id for u in large])))
    mails = db.session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.user_id.in_([u.id for u in large])))
    assert notes == mails == 400


def test_the_bulk_fan_out_keeps_each_persons_language_settings_and_link(app, demo):
    instance = an_instance(demo)
    zh = people(2, "zh")
    en = people(1, "en", locale="en")[0]
    quiet = people(1, "qh")[0]
    off = people(1, "off")[0]
    no_mail = User(username="nomail", display_name="无邮箱", password_hash="x")
    db.session.add(no_mail)
    db.session.add_all([
        NotificationSettings(user_id=quiet.id, email_enabled=True, quiet_start=clock(22),
                             quiet_end=clock(7), digest_low_priority=True),
        NotificationSettings(user_id=off.id, email_enabled=False, digest_low_priority=True)])
    db.session.flush()
    late = datetime(2026, 12, 1, 15, 30, tzinfo=timezone.utc)  # 23:30 in Chongqing
    everyone = [u.id for u in zh] + [en.id, quiet.id, off.id, no_mail.id]
    fan_out(instance, everyone + [zh[0].id], now=late, kind="task_assigned")  # one twice
    db.session.commit()

    notes = {n.user_id: n for n in db.session.scalars(select(Notification).where(
        Notification.instance_id == instance.id, Notification.user_id.in_(everyone)))}
    assert sorted(notes) == sorted(everyone)  # one each, in-app for everybody
    note = notes[en.id]
    assert (note.kind, note.title_key, note.task_key, note.priority, note.read_at) == (
        "task_assigned", "task_assigned", "verify", "normal", None)
    assert note.params["step_name"] == "驿站核实" and note.params["process_name"]
    mails = {d.user_id: d for d in db.session.scalars(select(Delivery).where(
        Delivery.user_id.in_(everyone)))}
    assert sorted(mails) == sorted([u.id for u in zh] + [en.id, quiet.id])
    for user_id, mail in mails.items():
        assert mail.notification_id == notes[user_id].id and mail.channel == "email"
        assert mail.status == "pending" and mail.attempts == 0 and not mail.digest
        assert f"/instances/{instance.id}" in mail.body
    assert mails[en.id].subject.startswith("New task:") and "Open:" in mails[en.id].body
    assert mails[zh[1].id].subject.startswith("您有一项待办") and "查看详情" in mails[zh[1].id].body
    # Which request it is about, by title and number: two such mails are not the same.
    assert f"事项：{instance.title} #{instance.id}" in mails[zh[1].id].body
    assert f"Request: {instance.title} #{instance.id}" in mails[en.id].body
    assert mails[zh[1].id].target == zh[1].email
    assert mails[zh[0].id].due_at == late
    assert mails[quiet.id].due_at == datetime(2026, 12, 1, 23, 0, tzinfo=timezone.utc)


def deliveries(demo, count: int) -> list[int]:
    instance = an_instance(demo)
    fan_out(instance, [u.id for u in people(count, "d")])
    db.session.commit()
    return list(db.session.scalars(select(Delivery.id).where(
        Delivery.user_id.is_not(None), Delivery.notification_id.in_(
            select(Notification.id).where(Notification.kind == "escalated")))
        .order_by(Delivery.id)))


def sent_files(app) -> Counter:
    folder = Path(app.config["MAIL_OUTBOX"])
    return Counter(p.name for p in folder.glob("*.eml"))


def test_a_batch_is_claimed_and_marked_sent_per_group_not_per_message(app, demo):
    ids = deliveries(demo, outbox.BATCH)
    groups = math.ceil(len(ids) / app.config["DELIVERY_GROUP"])
    with Statements() as run:
        assert outbox.deliver(ids, now=NOW + timedelta(minutes=1)) == []
    # One claim (UPDATE … RETURNING) and one "sent" mark per group; nothing read per row.
    assert run.sql == ["UPDATE", "UPDATE"] * groups, run.sql
    assert run.commits == groups + 1
    db.session.expire_all()
    rows = db.session.scalars(select(Delivery).where(Delivery.id.in_(ids))).all()
    assert {(d.status, d.attempts) for d in rows} == {("sent", 1)}
    assert all(d.sent_at is not None and d.claimed_at is not None for d in rows)
    assert sent_files(app) == Counter(f"delivery-{i}.eml" for i in ids)


class Killed(BaseException):
    """The worker dies: nothing after this point runs, nothing uncommitted stays."""


@pytest.mark.parametrize("group", [1, 20])
def test_a_crash_mid_group_loses_nothing_and_resends_at_most_the_group(app, demo,
                                                                        monkeypatch, group):
    app.config["DELIVERY_GROUP"] = group
    ids = deliveries(demo, 50)
    sends: list[int] = []
    real = outbox.SENDERS["email"]

    def sender(row, mailer):
        if len(sends) == 27:  # the 28th message: the worker is killed before it goes out
            raise Killed()
        real(row, mailer)
        sends.append(row.id)

    monkeypatch.setitem(outbox.SENDERS, "email", sender)
    first = NOW + timedelta(minutes=1)
    with pytest.raises(Killed):
        outbox.deliver(ids, now=first)
    db.session.rollback()  # the job's session goes away with the worker
    status = Counter(db.session.scalars(select(Delivery.status).where(Delivery.id.in_(ids))))
    crashed = ids[27 // group * group:27 // group * group + group]
    assert status["sent"] == 27 // group * group  # the groups before the crash
    assert status["sending"] == len(crashed)  # claimed, not known to be sent
    # Nothing happens to the claimed group until its claim is stale; then the sweeper
    # hands everything left to a job.
    def due(at):
        return [i for i in outbox.due_ids(at) if i in ids]

    done = 27 // group * group
    assert due(first + timedelta(seconds=1)) == ids[done + len(crashed):]
    later = first + timedelta(seconds=app.config["DELIVERY_STALE_SECONDS"] + 1)
    assert due(later) == ids[done:]
    monkeypatch.setitem(outbox.SENDERS, "email", lambda row, mailer: (real(row, mailer),
                                                                     sends.append(row.id)))
    assert outbox.deliver(due(later), now=later) == []
    db.session.expire_all()
    assert set(db.session.scalars(select(Delivery.status).where(Delivery.id.in_(ids)))) == {
        "sent"}
    counts = Counter(sends)
    assert set(counts) == set(ids)  # none lost
    twice = {i for i, n in counts.items() if n > 1}
    assert twice == set(ids[done:27])  # only what the crashed group sent
    assert len(twice) <= group - 1 and max(counts.values()) <= 2
    assert sent_files(app) == Counter(f"delivery-{i}.eml" for i in ids)  # same file


def test_a_slow_mail_server_never_sends_on_a_claim_the_sweeper_could_take(app, demo,
                                                                           monkeypatch):
    app.config["DELIVERY_STALE_SECONDS"] = 10  # a job sends only while its claim is < 5 s
    ids = deliveries(demo, 12)
    start = NOW + timedelta(minutes=5)
    clock_now = [0.0]
    monkeypatch.setattr(outbox, "_monotonic", lambda: clock_now[0])
    monkeypatch.setattr(outbox, "_now", lambda: start + timedelta(seconds=clock_now[0]))
    ages: list[float] = []
    real = outbox.SENDERS["email"]

    def slow(row, mailer):
        claimed = db.session.scalar(select(Delivery.claimed_at).where(Delivery.id == row.id))
        ages.append((outbox._now() - claimed).total_seconds())
        real(row, mailer)
        clock_now[0] += 2.0  # each message takes the mail server 2 s

    monkeypatch.setitem(outbox.SENDERS, "email", slow)
    with Statements() as run:
        assert outbox.deliver(ids) == []
    assert len(ages) == len(ids) and max(ages) <= 5.0, ages
    assert run.sql.count("UPDATE") > 2  # the rest was given back and claimed afresh
    db.session.expire_all()
    rows = db.session.scalars(select(Delivery).where(Delivery.id.in_(ids))).all()
    assert {(d.status, d.attempts) for d in rows} == {("sent", 1)}  # a give-back is no try
    assert sent_files(app) == Counter(f"delivery-{i}.eml" for i in ids)


class FakeSMTP:
    """Stands in for smtplib.SMTP: records connections and what each one carried."""

    connections: list["FakeSMTP"] = []
    fail_on: set[str] = set()

    def __init__(self, host, port, timeout=None):
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.closed = False
        FakeSMTP.connections.append(self)

    def sendmail(self, sender, to, content):
        import smtplib

        assert not self.closed
        # What smtplib itself would send: MAIL FROM / RCPT TO must be ASCII.
        for address in (sender, *to):
            ("mail from:" + smtplib.quoteaddr(address)).encode("ascii")
        if to[0] in FakeSMTP.fail_on:
            FakeSMTP.fail_on.discard(to[0])
            raise OSError("connection reset by peer")
        self.messages.append((sender, to, content))

    def quit(self):
        self.closed = True

    close = quit

    def starttls(self):
        pass

    def login(self, user, password):
        pass


def test_one_smtp_connection_per_group_and_a_broken_one_is_replaced(app, demo, monkeypatch):
    import smtplib

    app.config.update(MAIL_BACKEND="smtp", MAIL_FROM="工会 <noreply@unionflow.local>")
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    FakeSMTP.connections = []
    ids = deliveries(demo, 45)
    rows = {d.id: d for d in db.session.scalars(select(Delivery).where(Delivery.id.in_(ids)))}
    FakeSMTP.fail_on = {rows[ids[5]].target}
    assert outbox.deliver(ids, now=NOW + timedelta(minutes=1)) == [ids[5]]
    # Three groups of ≤ 20; the first lost its connection at the 6th and opened another.
    assert len(FakeSMTP.connections) == 4 and all(c.closed for c in FakeSMTP.connections)
    carried = [m for c in FakeSMTP.connections for m in c.messages]
    assert len(carried) == 44
    sender, to, content = carried[0]
    mail = rows[ids[0]]
    assert to == [mail.target] and sender == "noreply@unionflow.local"  # the envelope
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert message["Subject"] == mail.subject and message["To"] == mail.target
    assert message["Message-ID"] == f"<delivery-{mail.id}@unionflow.local>"
    assert message["From"].addresses[0].addr_spec == "noreply@unionflow.local"
    assert message["From"].addresses[0].display_name == "工会"
    assert message.get_content() == mail.body.replace("\n", "\r\n") + "\r\n"
    assert b"\n" not in content.replace(b"\r\n", b"")  # CRLF only: smtplib sends bytes as is
    assert message.get_content_type() == "text/plain"
    db.session.expire_all()
    failed = db.session.get(Delivery, ids[5])
    assert failed.status == "pending" and "reset" in failed.last_error  # retried later


def test_a_subject_cannot_add_a_header(app):
    row = type("Row", (), {"id": 7, "target": "a@b.cn", "body": "正文\nline",
                           "subject": "标题\r\nBcc: evil@example.com"})()
    message = email.message_from_bytes(outbox.email_bytes(row, "noreply@x"),
                                       policy=email.policy.default)
    assert message["Bcc"] is None and "Bcc: evil" in message["Subject"]
    assert message.get_content() == "正文\r\nline\r\n"


@pytest.mark.parametrize("body", ["正文\n第二行", "plain ascii\nsecond line", "x" * 200])
def test_a_message_is_what_mail_services_accept(body):
    """CRLF line ends (smtplib sends bytes as they are; strict servers refuse a bare LF
    since the SMTP smuggling fixes), a Date, a From whose Chinese name is encoded but
    whose address stays readable (encoding the whole value left a From with no address,
    which mail services refuse), and a Message-ID with the sender's domain."""
    row = type("Row", (), {"id": 7, "target": "rider@example.cn", "body": body,
                           "subject": "微心愿已认领：" + "长" * 100})()
    sent = datetime(2026, 11, 30, 5, 0, tzinfo=timezone.utc)
    raw = outbox.email_bytes(row, "重庆市总工会 <noreply@union.example.cn>", now=sent)
    assert b"\n" not in raw.replace(b"\r\n", b"") and raw.endswith(b"\r\n")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    sender = message["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("重庆市总工会", "noreply@union.example.cn")
    assert message["To"].addresses[0].addr_spec == "rider@example.cn"
    assert message["Date"].datetime == sent and message["Date"].endswith("+0800")
    assert message["Message-ID"] == "<delivery-7@union.example.cn>"
    assert message["Subject"] == "微心愿已认领：" + "长" * 100
    assert message.get_content() == body.replace("\n", "\r\n") + "\r\n"
    assert not message.defects and not message["From"].defects


def test_addresses_in_other_scripts_are_sent_or_refused_clearly(app, demo, monkeypatch):
    """A Chinese domain is sent punycoded, in the header and the envelope; a Chinese
    mailbox needs SMTPUTF8, which this sender does not speak: it fails at once (no
    retries for an hour) with a readable reason."""
    import smtplib

    app.config.update(MAIL_BACKEND="smtp", MAIL_FROM="工会 <noreply@工会.中国>")
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    FakeSMTP.connections = []
    ids = deliveries(demo, 2)
    rows = db.session.scalars(select(Delivery).where(Delivery.id.in_(ids))).all()
    rows[0].target, rows[1].target = "rider@工会.中国", "骑手@example.cn"
    db.session.commit()
    assert outbox.deliver(ids, now=NOW + timedelta(minutes=1)) == [rows[1].id]
    (sender, to, content), = [m for c in FakeSMTP.connections for m in c.messages]
    assert (sender, to) == ("noreply@xn--6oq837a.xn--fiqs8s", ["rider@xn--6oq837a.xn--fiqs8s"])
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert message["To"].addresses[0].domain == "xn--6oq837a.xn--fiqs8s"
    db.session.expire_all()
    failed = db.session.get(Delivery, rows[1].id)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert "SMTPUTF8" in failed.last_error and "骑手@example.cn" in failed.last_error


@pytest.mark.parametrize("sender", ["重庆市总工会", "", "a@x.cn, b@y.cn", "重庆市总工会 <>",
                                    "name <@x.cn>"])
def test_a_sender_that_is_not_one_address_is_refused(sender):
    row = type("Row", (), {"id": 9, "target": "a@b.cn", "body": "b", "subject": "s"})()
    with pytest.raises(outbox.AddressError):
        outbox.email_bytes(row, sender)


def test_a_long_chinese_sender_name_is_folded_within_the_limits():
    row = type("Row", (), {"id": 9, "target": "a@b.cn", "body": "b", "subject": "s"})()
    name = "重庆市渝中区解放碑街道总工会职工服务中心" * 3
    raw = outbox.email_bytes(row, f"{name} <noreply@union.example.cn>")
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    # RFC 2047: the space between adjacent encoded-words is not part of the name (as mail
    # clients read it; Python's address parser keeps it, its decode_header does not).
    from email.header import decode_header, make_header

    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert str(make_header(decode_header(message["From"]))) == \
        f"{name} <noreply@union.example.cn>"


@pytest.mark.parametrize("settings, kind, port, starttls", [
    ({"MAIL_USE_SSL": True}, "SMTP_SSL", 465, False),
    ({"MAIL_USE_TLS": True, "MAIL_PORT": 587}, "SMTP", 587, True),
])
def test_implicit_tls_on_465_or_starttls(app, monkeypatch, settings, kind, port, starttls):
    import smtplib

    opened = []

    class Recording(FakeSMTP):
        def __init__(self, host, port, timeout=None):
            super().__init__(host, port, timeout)
            opened.append((type(self).kind, port))
            self.tls = False

        def starttls(self):
            self.tls = True

    monkeypatch.setattr(smtplib, "SMTP", type("SMTP", (Recording,), {"kind": "SMTP"}))
    monkeypatch.setattr(smtplib, "SMTP_SSL", type("SMTP_SSL", (Recording,), {"kind": "SMTP_SSL"}))
    app.config.update(MAIL_SERVER="smtp.example.cn", **settings)
    connection = outbox._smtp_connect()
    assert opened == [(kind, port)] and connection.tls is starttls
