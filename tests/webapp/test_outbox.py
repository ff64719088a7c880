"""Notifications through the outbox: after commit only, never twice, retried, re-driven,
quiet hours and digests, fan-out in batches, timers woken by RQ."""
from __future__ import annotations

import http.server
import threading
import time
from contextlib import contextmanager
from datetime import datetime, time as clock, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tests.webapp.test_workflow_service import NOW, demo, open_task, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.models import Delivery, Notification, NotificationSettings, UnitWebhook
from webapp.queue import runtime
from webapp.services import outbox
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code
from workflows.runtime import Action


@pytest.fixture
def app_config(app_config, tmp_path, redis_url):
    # Jobs are run by the test itself, so each step can be looked at; on a real Redis
    # when TEST_REDIS_URL is set.
    return {**app_config, "EMBEDDED_WORKER": False, "REDIS_URL": redis_url,
            "MAIL_OUTBOX": str(tmp_path / "outbox")}


def outbox_files(app):
    from pathlib import Path

    folder = Path(app.config["MAIL_OUTBOX"])
    return sorted(p.name for p in folder.glob("*.eml")) if folder.exists() else []


def submit(demo):
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    return instance


def test_a_step_makes_its_deliveries_in_the_same_transaction_and_queues_after_commit(app,
                                                                                    demo):
    rt = runtime(app)
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    mail = db.session.scalars(select(Delivery)).all()
    assert [(d.channel, d.target) for d in mail] == [("email",
                                                      "station_head@demo.unionflow.cn")]
    assert rt.queue().count == 0  # nothing is queued before the commit
    db.session.commit()
    assert rt.queue().count == 1
    assert instance.status == "running"


def test_a_rolled_back_step_leaves_no_notification_and_queues_nothing(app, demo):
    rt = runtime(app)
    wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.rollback()
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
    assert rt.queue().count == 0


def test_a_job_run_twice_delivers_once(app, demo):
    submit(demo)
    delivery = db.session.scalar(select(Delivery))
    soon = NOW + timedelta(minutes=1)
    assert outbox.deliver([delivery.id], now=soon) == []
    assert outbox.deliver([delivery.id], now=soon) == []  # a duplicate or retried job
    db.session.refresh(delivery)
    assert delivery.status == "sent" and delivery.attempts == 1
    assert outbox_files(app) == [f"delivery-{delivery.id}.eml"]
    text = (__import__("pathlib").Path(app.config["MAIL_OUTBOX"]) /
            f"delivery-{delivery.id}.eml").read_text()
    assert f"Message-ID: <delivery-{delivery.id}@unionflow.local>" in text


class FlakyHook(http.server.BaseHTTPRequestHandler):
    answers: list[int] = []
    seen: list[str] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers["Content-Length"]))
        FlakyHook.seen.append(self.headers["Idempotency-Key"])
        code = FlakyHook.answers.pop(0) if FlakyHook.answers else 200
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args):
        pass


@contextmanager
def serving(handler):
    """A receiver on loopback, in a thread, for as long as the block runs: its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hook_server():
    FlakyHook.answers, FlakyHook.seen = [], []
    with serving(FlakyHook) as port:
        yield f"http://127.0.0.1:{port}/robot"


def test_webhook_failure_is_retried_with_backoff_then_succeeds(app, demo, hook_server):
    db.session.add(UnitWebhook(unit_id=unit_by_code("cq-yz").id, url=hook_server))
    db.session.commit()
    outbox.forget_webhooks()  # as `flask webhook` does; else seen within a minute
    FlakyHook.answers = [500]
    submit(demo)
    hook = db.session.scalar(select(Delivery).where(Delivery.channel == "webhook"))
    assert outbox.deliver([hook.id], now=NOW) == [hook.id]
    db.session.refresh(hook)
    assert hook.status == "pending" and hook.attempts == 1 and "500" in hook.last_error
    assert hook.due_at > NOW  # backs off before the next try
    assert outbox.deliver([hook.id], now=NOW + timedelta(seconds=1)) == []  # not due yet
    assert FlakyHook.seen == [f"delivery-{hook.id}"]
    later = NOW + timedelta(minutes=5)
    assert outbox.deliver([hook.id], now=later) == []
    db.session.refresh(hook)
    assert hook.status == "sent" and hook.attempts == 2
    assert FlakyHook.seen == [f"delivery-{hook.id}"] * 2  # the receiver can de-duplicate


def test_after_the_last_attempt_it_is_failed_and_an_admin_can_redrive_it(app, demo, client,
                                                                         auth):
    app.config["DELIVERY_MAX_ATTEMPTS"] = 2
    db.session.add(UnitWebhook(unit_id=unit_by_code("cq-yz").id, url="http://127.0.0.1:9/x"))
    db.session.commit()
    outbox.forget_webhooks()
    submit(demo)
    hook = db.session.scalar(select(Delivery).where(Delivery.channel == "webhook"))
    outbox.deliver([hook.id], now=NOW)
    outbox.deliver([hook.id], now=NOW + timedelta(hours=1))
    db.session.refresh(hook)
    assert hook.status == "failed" and hook.attempts == 2
    auth.login("admin", "demo-pass-2026")
    page = client.get("/admin/deliveries").get_data(as_text=True)
    assert "http://127.0.0.1:9/x" in page and "重新发送" in page
    client.post(f"/admin/deliveries/{hook.id}/redrive")
    db.session.expire_all()
    assert db.session.get(Delivery, hook.id).status == "pending"
    assert runtime(app).queue().count >= 1
    auth.logout()
    auth.login("rider1", "demo-pass-2026")
    assert client.get("/admin/deliveries").status_code == 403


def _wish_at_night_for_a_quiet_head(demo):
    """The station head keeps quiet hours 22:00–07:00; a wish comes at 23:30 (China)."""
    head = demo["station_head"]
    db.session.add(NotificationSettings(user_id=head.id, email_enabled=True,
                                        quiet_start=clock(22), quiet_end=clock(7),
                                        digest_low_priority=True))
    db.session.commit()
    late = datetime(2026, 12, 1, 15, 30, tzinfo=timezone.utc)  # 23:30 in Chongqing
    wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=late)
    db.session.commit()
    return head, late


def test_quiet_hours_hold_mail_until_they_end(app, demo):
    head, late = _wish_at_night_for_a_quiet_head(demo)
    mail = db.session.scalar(select(Delivery).where(Delivery.user_id == head.id))
    assert mail.due_at == datetime(2026, 12, 1, 23, 0, tzinfo=timezone.utc)  # 07:00 local
    assert outbox.deliver([mail.id], now=late + timedelta(hours=1)) == []
    db.session.refresh(mail)
    assert mail.status == "pending"  # still quiet at 00:30
    assert mail.id not in outbox.due_ids(late + timedelta(hours=1))
    assert mail.id in outbox.due_ids(late + timedelta(hours=8))


def test_a_reminder_due_at_night_waits_for_the_morning(app, demo):
    """A reminder is not urgent: its e-mail keeps its reader's quiet hours."""
    from webapp.models import Notification as Note

    head, late = _wish_at_night_for_a_quiet_head(demo)
    wf.fire_due_timers(late + timedelta(days=2))  # the 2-day reminder: 23:30 again
    db.session.commit()
    reminder = db.session.scalar(select(Delivery).join(
        Note, Note.id == Delivery.notification_id).where(
        Delivery.user_id == head.id, Note.kind == "reminder"))
    assert reminder is not None
    assert reminder.due_at == datetime(2026, 12, 3, 23, 0, tzinfo=timezone.utc)  # 07:00


def test_people_who_turned_mail_off_get_only_the_in_app_message(app, demo):
    db.session.add(NotificationSettings(user_id=demo["station_head"].id, email_enabled=False,
                                        digest_low_priority=True))
    db.session.commit()
    submit(demo)
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 1


def test_low_priority_messages_wait_for_the_daily_digest(app, demo):
    instance = submit(demo)
    note = db.session.scalar(select(Notification))
    outbox.plan([Notification(user_id=note.user_id, kind="comment", title_key="x",
                              params={"process_name": "微心愿", "comment": "一"},
                              instance_id=instance.id, priority="low", created_at=NOW)],
                instance, NOW)
    outbox.plan([Notification(user_id=note.user_id, kind="comment", title_key="x",
                              params={"process_name": "微心愿", "comment": "二"},
                              instance_id=instance.id, priority="low", created_at=NOW)],
                instance, NOW)
    outbox.queue_new()
    db.session.commit()
    assert outbox.send_digests(NOW) == 0  # not 20:00 yet
    assert outbox.send_digests(NOW + timedelta(days=1)) == 1
    summary = db.session.scalar(select(Delivery).where(Delivery.subject.contains("汇总")))
    assert "一" in summary.body and "二" in summary.body and summary.digest is False
    # Which request each message is about, once, with its link — not a list of lines
    # that all read alike ("微心愿 有新留言" twice).
    base = app.config["PUBLIC_URL"].rstrip("/")
    assert summary.body.count(f"{instance.title} #{instance.id}") == 1
    assert summary.body.count(f"{base}/instances/{instance.id}") == 1
    assert f"{base}/notifications" in summary.body and summary.body.endswith("——工会服务平台")
    # Someone who reads English gets the digest's subject in English.
    from webapp.models import User

    db.session.get(User, note.user_id).locale = "en"
    outbox.plan([Notification(user_id=note.user_id, kind="comment", title_key="x",
                              params={"process_name": "微心愿", "comment": "三"},
                              instance_id=instance.id, priority="low", created_at=NOW)],
                instance, NOW)
    outbox.queue_new()
    db.session.commit()
    assert outbox.send_digests(NOW + timedelta(days=2)) == 1
    english = db.session.scalar(select(Delivery).where(Delivery.subject.startswith("Today")))
    assert english.subject == "Today's messages (1)" and "三" not in english.subject
    assert f"/instances/{instance.id}" in english.body and "All your messages:" in english.body


def test_one_event_to_a_thousand_people_is_a_handful_of_jobs(app, demo):
    from webapp.models import User

    instance = submit(demo)
    users = [User(username=f"w{i:04d}", display_name=f"职工{i}", password_hash="x",
                  email=f"w{i}@demo.unionflow.cn") for i in range(1000)]
    db.session.add_all(users)
    db.session.flush()
    rt = runtime(app)
    before = rt.queue().count
    notes = [Notification(user_id=u.id, kind="escalated", title_key="x",
                          params={"process_name": "微心愿", "step_name": "驿站核实"},
                          instance_id=instance.id, created_at=NOW) for u in users]
    db.session.add_all(notes)
    outbox.plan(notes, instance, NOW)
    outbox.queue_new()
    db.session.commit()
    assert rt.queue().count - before == 10
    assert db.session.scalar(select(func.count()).select_from(Delivery)) >= 1000


def test_a_step_leaves_its_timers_as_rows_and_schedules_nothing_in_redis(app, demo,
                                                                          redis_url):
    """Each open task's reminders and time-outs are rows only (the sweep fires them): no
    job sits in Redis for weeks per timer."""
    if not redis_url:
        pytest.skip("needs TEST_REDIS_URL: the embedded queue never scheduled anything")
    from rq.registry import ScheduledJobRegistry

    from webapp.models import Timer

    submit(demo)
    assert db.session.scalar(select(func.count()).select_from(Timer).where(
        Timer.status == "pending")) >= 1
    assert ScheduledJobRegistry(queue=runtime(app).queue()).count == 0
    assert runtime(app).queue().count == 1  # the delivery of the head's e-mail, no more


def test_one_sweep_fires_every_due_timer_batch_after_batch(app, demo):
    from webapp.models import Instance, Timer

    instances = []
    for who in ("rider1", "courier1"):
        instances.append(wf.start_instance("micro_wish", demo[who], wish_data(), now=NOW))
        db.session.commit()
    for instance in instances:
        wf.perform(instance.id, Action("approve", task=open_task(instance).key),
                   demo["station_head"], now=NOW)
        db.session.commit()
    ids = [i.id for i in instances]
    due = db.session.scalars(select(Timer.id).where(Timer.status == "pending")).all()
    # One more timer that cannot fire: its request was withdrawn meanwhile, yet the row
    # says pending (as after a race).  The sweep passes over it and still ends.
    stray = wf.start_instance("micro_wish", demo["driver1"], wish_data(), now=NOW)
    db.session.commit()
    stray_timer = db.session.scalar(select(Timer).where(Timer.instance_id == stray.id))
    wf.perform(stray.id, Action("withdraw"), demo["driver1"], now=NOW)
    db.session.commit()
    stray_timer.status = "pending"
    db.session.commit()
    late = NOW + timedelta(days=400)
    fired = wf.fire_due_timers(late, limit=1)  # one at a time: several reads
    assert fired >= len(ids)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Timer).where(
        Timer.id.in_(due), Timer.status == "pending")) == 0
    assert {db.session.get(Instance, i).status for i in ids} == {"expired"}
    assert db.session.get(Timer, stray_timer.id).status == "cancelled"  # not tried again


def test_a_timer_woken_twice_fires_once(app, demo):
    from webapp.models import Instance, Timer

    instance = submit(demo)
    wf.perform(instance.id, Action("approve", task=open_task(instance).key),
               demo["station_head"], now=NOW)
    db.session.commit()
    timer = db.session.scalar(select(Timer).where(Timer.purpose == "timeout",
                                                  Timer.status == "pending"))
    assert not wf.fire_timer(timer.id, now=NOW + timedelta(days=1))  # not due yet
    late = NOW + timedelta(days=31)
    assert wf.fire_timer(timer.id, now=late)  # the scheduler's wake-up
    assert not wf.fire_timer(timer.id, now=late)  # the sweeper's, a moment later
    db.session.expire_all()
    instance = db.session.get(Instance, instance.id)
    assert instance.status == "expired"
    assert db.session.get(Timer, timer.id).status == "fired"
    assert [h["action"] for h in instance.state["history"]].count("timeout") == 1


def test_sweeper_fires_due_timers_and_redrives_lost_deliveries(app, demo):
    from webapp import jobs

    submit(demo)
    mail = db.session.scalar(select(Delivery))
    # The job was lost (Redis flushed, worker gone): only the row remains.
    runtime(app).connection.flushdb()
    mail.due_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    db.session.commit()
    result = jobs.sweep()
    assert result["deliveries"] == 1 and runtime(app).queue().count == 1
    assert mail.status == "pending"


def test_a_person_sets_channels_and_quiet_hours(app, demo, client, auth):
    auth.login("station_head", "demo-pass-2026")
    bad = client.post("/account/notifications", data={"email_enabled": "y",
                                                       "quiet_start": "22:00"})
    assert bad.status_code == 422 and "同时填写" in bad.get_data(as_text=True)
    ok = client.post("/account/notifications", data={"quiet_start": "22:00",
                                                     "quiet_end": "07:00"},
                     follow_redirects=True)
    assert "通知设置已保存" in ok.get_data(as_text=True)
    db.session.expire_all()
    settings = db.session.get(NotificationSettings, demo["station_head"].id)
    assert settings.email_enabled is False and settings.quiet_start == clock(22)


def test_an_administrator_points_a_unit_at_a_robot_webhook(app, demo, runner):
    bad = runner.invoke(args=["webhook", "cq-yz", "ftp://robot"])
    assert bad.exit_code != 0 and "http(s)" in bad.output
    assert runner.invoke(args=["webhook", "nowhere", "https://robot.example/x"]).exit_code != 0
    ok = runner.invoke(args=["webhook", "cq-yz", "https://robot.example/send?key=1"])
    assert ok.exit_code == 0, ok.output
    submit(demo)
    hooks = db.session.scalars(select(Delivery).where(Delivery.channel == "webhook")).all()
    assert [h.target for h in hooks] == ["https://robot.example/send?key=1"]
    assert '"instance_id"' in hooks[0].body and "待办" in hooks[0].body
    runner.invoke(args=["webhook", "cq-yz", "--off"])
    submit_other = wf.start_instance("micro_wish", demo["courier1"], wish_data(), now=NOW)
    db.session.commit()
    assert not db.session.scalars(select(Delivery).where(
        Delivery.channel == "webhook", Delivery.notification_id.in_(
            select(Notification.id).where(Notification.instance_id == submit_other.id)))).all()


def test_a_comment_is_news_for_the_digest_a_task_is_mailed_now(app, demo):
    instance = submit(demo)
    wf.perform(instance.id, Action("comment", comment="请尽快处理"), demo["rider1"], now=NOW)
    db.session.commit()
    mails = db.session.scalars(select(Delivery).join(Notification).order_by(Delivery.id)).all()
    kinds = [(m.notification.kind, m.digest) for m in mails]
    assert ("task_assigned", False) in kinds
    assert any(kind == "comment" for kind, _ in kinds)
    assert all(digest for kind, digest in kinds if kind == "comment")


def test_webhooks_are_read_once_a_while_not_at_every_step(app, demo, runner):
    """A step asks no query about webhooks while the process's copy is fresh; a change
    made elsewhere is seen once WEBHOOK_CACHE_SECONDS have passed, one made by
    `flask webhook` in this process at once."""
    from sqlalchemy import event

    submit(demo)  # the copy is read (no webhooks yet)
    seen = []
    listen = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        submit_other = wf.start_instance("micro_wish", demo["courier1"], wish_data(), now=NOW)
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert not [s for s in seen if "unit_webhooks" in s]
    db.session.add(UnitWebhook(unit_id=unit_by_code("cq-yz").id, url="https://elsewhere/x"))
    db.session.commit()  # written by another process: not seen yet
    wf.perform(submit_other.id, Action("comment", comment="还在吗"), demo["courier1"], now=NOW)
    db.session.commit()
    assert not db.session.scalars(select(Delivery).where(Delivery.channel == "webhook")).all()
    app.config["WEBHOOK_CACHE_SECONDS"] = 0  # the copy is now too old
    wf.perform(submit_other.id, Action("comment", comment="还在吗？"), demo["courier1"], now=NOW)
    db.session.commit()
    assert [h.target for h in db.session.scalars(select(Delivery).where(
        Delivery.channel == "webhook"))] == ["https://elsewhere/x"]


def test_a_group_chats_webhook_gets_the_short_one_line_title(app, demo):
    """A 2,000-character comment over several lines would exceed a chat bot's text limit:
    the webhook carries the title as the notification centre shows it."""
    import json

    db.session.add(UnitWebhook(unit_id=unit_by_code("cq-yz").id, url="https://bot.example/x"))
    db.session.commit()
    outbox.forget_webhooks()
    instance = submit(demo)
    long_comment = "第一行\n" + "很长的留言" * 300
    wf.perform(instance.id, Action("comment", comment=long_comment), demo["rider1"], now=NOW)
    db.session.commit()
    hook = db.session.scalars(select(Delivery).where(Delivery.channel == "webhook")
                              .order_by(Delivery.id.desc())).first()
    content = json.loads(hook.body)["text"]["content"]
    assert "\n" not in content and len(content) <= 100 and content.endswith("…")
    assert content.startswith("微心愿 有新留言：第一行 很长的留言")


def _withdraw(instance, demo):
    """rider1 withdraws their wish; the webhook deliveries and notifications it made."""
    import json

    before = db.session.scalar(select(func.max(Delivery.id))) or 0
    notes_before = db.session.scalar(select(func.max(Notification.id))) or 0
    wf.perform(instance.id, Action("withdraw"), demo["rider1"], now=NOW)
    db.session.commit()
    hooks = db.session.scalars(select(Delivery).where(Delivery.id > before,
                                                      Delivery.channel == "webhook")).all()
    notes = db.session.scalars(select(Notification).where(
        Notification.id > notes_before)).all()
    return [(h, json.loads(h.body)) for h in hooks], notes


def _on_the_wall(demo):
    """A wish the station head approved: on the wall, a task held by nobody."""
    from tests.webapp.test_workflow_service import act

    instance = submit(demo)
    act(instance, "approve", demo["station_head"])
    assert instance.steps == "wall"
    return instance


def test_a_withdrawal_that_tells_nobody_still_reaches_the_units_group_chat(app, demo,
                                                                           hook_server):
    """The applicant is never told of their own withdrawal and nobody held the wish: no
    notification at all — but the unit's group chat hears of it, once, sent like any."""
    instance = _on_the_wall(demo)
    db.session.add(UnitWebhook(unit_id=unit_by_code("cq-yz").id, url=hook_server))
    db.session.commit()
    outbox.forget_webhooks()
    rt = runtime(app)
    queued = rt.queue().count
    hooks, notes = _withdraw(instance, demo)
    assert notes == []
    assert len(hooks) == 1
    hook, body = hooks[0]
    assert (hook.target, hook.notification_id, hook.user_id) == (hook_server, None, None)
    assert (body["instance_id"], body["kind"], body["recipients"]) == (instance.id, "ended", 0)
    assert body["text"]["content"] == hook.subject == "您的微心愿已撤回"
    assert rt.queue().count == queued + 1  # queued after the commit, as any delivery
    assert outbox.deliver([hook.id], now=NOW) == []
    db.session.refresh(hook)
    assert hook.status == "sent" and FlakyHook.seen == [f"delivery-{hook.id}"]


def test_a_withdrawal_that_tells_the_holder_reaches_the_group_chat_once(app, demo):
    """Awaiting the station head: the head is told, and the chat hears that message —
    not also one for the applicant's own "ended", which tells nobody."""
    instance = submit(demo)
    db.session.add(UnitWebhook(unit_id=unit_by_code("cq-yz").id, url="https://bot.example/x"))
    db.session.commit()
    outbox.forget_webhooks()
    hooks, notes = _withdraw(instance, demo)
    assert [(n.kind, n.user_id) for n in notes] == [("withdrawn", demo["station_head"].id)]
    assert [(body["kind"], body["recipients"], hook.notification_id)
            for hook, body in hooks] == [("withdrawn", 1, notes[0].id)]


def test_a_withdrawal_that_tells_nobody_posts_nothing_without_a_webhook(app, demo):
    """No webhook for the unit (another unit has one): no delivery at all, and no statement
    about webhooks in the withdrawal (the process's copy of them answers)."""
    from sqlalchemy import event

    db.session.add(UnitWebhook(unit_id=unit_by_code("cq-jb").id, url="https://bot.example/x"))
    db.session.commit()
    outbox.forget_webhooks()
    instance = _on_the_wall(demo)
    deliveries = db.session.scalar(select(func.count()).select_from(Delivery))
    notes = db.session.scalar(select(func.count()).select_from(Notification))
    seen = []
    listen = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        wf.perform(instance.id, Action("withdraw"), demo["rider1"], now=NOW)
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert db.session.get(type(instance), instance.id).status == "withdrawn"
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == deliveries
    assert db.session.scalar(select(func.count()).select_from(Notification)) == notes
    assert not [s for s in seen if "deliveries" in s or "unit_webhooks" in s]


def test_a_timer_that_fails_is_logged_and_the_others_still_fire(app, demo, monkeypatch,
                                                                caplog):
    from webapp.models import Instance, Timer

    broken = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    sound = wf.start_instance("micro_wish", demo["courier1"], wish_data(), now=NOW)
    db.session.commit()
    real_perform = wf.perform

    def perform(instance_id, action, actor, **kwargs):
        if instance_id == broken.id and action.kind == "fire":
            raise RuntimeError("a definition's rule failed")
        return real_perform(instance_id, action, actor, **kwargs)

    monkeypatch.setattr(wf, "perform", perform)
    late = datetime.now(timezone.utc) + timedelta(days=400)
    db.session.execute(Timer.__table__.update().values(fire_at=NOW))
    db.session.commit()
    fired = wf.fire_due_timers(late)
    assert fired >= 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Timer).where(
        Timer.instance_id == sound.id, Timer.status == "fired")) >= 1
    assert len(db.session.get(Instance, sound.id).state["history"]) > 1
    assert db.session.scalar(select(func.count()).select_from(Timer).where(
        Timer.instance_id == broken.id, Timer.status == "fired")) == 0
    assert db.session.scalar(select(func.count()).select_from(Timer).where(
        Timer.instance_id == broken.id, Timer.status == "pending")) >= 1  # tried next time
    assert "could not fire" in caplog.text


class DingTalkRobot(http.server.BaseHTTPRequestHandler):
    """A group robot as DingTalk runs one: with a secret (加签) it checks ``timestamp`` and
    ``sign``; a refusal is HTTP 200 with an ``errcode``, as DingTalk and WeCom answer."""

    secret: str | None = None
    seen: list[dict] = []
    refuse_next: list[dict] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        import base64
        import hashlib
        import hmac
        import json
        from urllib.parse import parse_qs, urlsplit

        body = self.rfile.read(int(self.headers["Content-Length"]))
        query = parse_qs(urlsplit(self.path).query)
        DingTalkRobot.seen.append({"query": query, "body": json.loads(body)})
        answer = {"errcode": 0, "errmsg": "ok"}
        if DingTalkRobot.secret is not None:
            timestamp = query.get("timestamp", [""])[0]
            expected = base64.b64encode(hmac.new(
                DingTalkRobot.secret.encode(), f"{timestamp}\n{DingTalkRobot.secret}".encode(),
                hashlib.sha256).digest()).decode()
            fresh = timestamp.isdigit() and abs(int(timestamp) / 1000 - time.time()) < 3600
            if not fresh or query.get("sign", [""])[0] != expected:
                answer = {"errcode": 310000, "errmsg": "sign not match"}
        if DingTalkRobot.refuse_next:
            answer = DingTalkRobot.refuse_next.pop(0)
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def robot():
    DingTalkRobot.secret, DingTalkRobot.seen, DingTalkRobot.refuse_next = None, [], []
    with serving(DingTalkRobot) as port:
        yield f"http://127.0.0.1:{port}/robot/send?access_token=abc"


def _webhook_delivery():
    return db.session.scalars(select(Delivery).where(Delivery.channel == "webhook")
                              .order_by(Delivery.id.desc())).first()


def test_a_robot_refusing_with_http_200_is_a_failure_retried_not_a_message_sent(app, demo,
                                                                                robot):
    """DingTalk and WeCom answer a refused message (keyword missing, too many a minute, a
    wrong key) with 200 and an errcode: it must not count as sent."""
    db.session.add(UnitWebhook(unit_id=unit_by_code("cq-yz").id, url=robot))
    db.session.commit()
    outbox.forget_webhooks()
    DingTalkRobot.refuse_next = [{"errcode": 410100, "errmsg": "send too fast, exceed 20 times per minute"}]
    submit(demo)
    hook = _webhook_delivery()
    assert outbox.deliver([hook.id], now=NOW) == [hook.id]
    db.session.refresh(hook)
    assert hook.status == "pending" and hook.attempts == 1
    assert "errcode 410100" in hook.last_error and "send too fast" in hook.last_error
    assert outbox.deliver([hook.id], now=NOW + timedelta(minutes=5)) == []
    db.session.refresh(hook)
    assert hook.status == "sent" and hook.last_error is None
    assert len(DingTalkRobot.seen) == 2


@pytest.mark.parametrize("answer, refusal", [
    (b'{"errcode":0,"errmsg":"ok"}', None),
    (b'{"errcode":"0"}', None),
    (b'{"ok":true}', None),  # another kind of receiver: its status code decides
    (b"", None), (b"OK", None), (b"[1,2]", None), (b"\xff\xfe", None),
    (b'{"errcode":93000,"errmsg":"invalid webhook url"}',
     "webhook refused the message: errcode 93000 invalid webhook url"),
    (b'{"errcode":310000}', "webhook refused the message: errcode 310000"),
])
def test_what_counts_as_a_robots_refusal(answer, refusal):
    assert outbox.robot_refusal(answer) == refusal


def test_a_dingtalk_robot_with_a_secret_gets_signed_messages(app, demo, robot, runner, caplog):
    secret = "SEC" + "0123456789abcdef" * 4
    DingTalkRobot.secret = secret
    ok = runner.invoke(args=["webhook", "cq-yz", robot, "--secret", secret])
    assert ok.exit_code == 0, ok.output
    assert secret not in ok.output and "signed" in ok.output
    submit(demo)
    hook = _webhook_delivery()
    assert hook.target == robot  # the row keeps the URL; the signature is made per attempt
    assert secret not in hook.body
    assert outbox.deliver([hook.id], now=NOW) == []
    db.session.refresh(hook)
    assert hook.status == "sent"
    query = DingTalkRobot.seen[-1]["query"]
    assert query["access_token"] == ["abc"] and query["timestamp"] and query["sign"]

    # Sent again without it (the hook re-pointed without --secret): refused, and said so.
    assert runner.invoke(args=["webhook", "cq-yz", robot]).exit_code == 0
    assert db.session.scalar(select(UnitWebhook.secret)) is None
    wf.start_instance("micro_wish", demo["courier1"], wish_data(), now=NOW)
    db.session.commit()
    unsigned = _webhook_delivery()
    assert outbox.deliver([unsigned.id], now=NOW) == [unsigned.id]
    db.session.refresh(unsigned)
    assert "errcode 310000" in unsigned.last_error and "sign not match" in unsigned.last_error
    assert "timestamp" not in DingTalkRobot.seen[-1]["query"]
    assert secret not in unsigned.last_error and secret not in caplog.text


def test_the_signature_is_dingtalks(app):
    """DingTalk's documented example, worked by hand: the timestamp in milliseconds, the
    HMAC-SHA256 of "timestamp\\nsecret" keyed by the secret, Base64, URL-encoded."""
    import base64
    import hashlib
    import hmac
    from urllib.parse import quote_plus

    secret, ts = "SECabc", 1700000000000
    sign = quote_plus(base64.b64encode(hmac.new(b"SECabc", b"1700000000000\nSECabc",
                                                hashlib.sha256).digest()))
    assert outbox.signed_url("https://oapi.dingtalk.com/robot/send?access_token=t", secret,
                             ts) == ("https://oapi.dingtalk.com/robot/send?access_token=t"
                                     f"&timestamp=1700000000000&sign={sign}")
    assert outbox.signed_url("https://bot.example/hook", secret, ts).startswith(
        "https://bot.example/hook?timestamp=1700000000000&sign=")
    assert outbox.signed_url("https://bot.example/hook", None) == "https://bot.example/hook"
    assert "%" in sign or "+" not in sign  # Base64's + / = are escaped in the query


@pytest.mark.parametrize("secret", ["", "SEC abc", " SECabc", "S" * 201])
def test_a_secret_that_cannot_be_one_is_refused(app, demo, runner, secret):
    bad = runner.invoke(args=["webhook", "cq-yz", "https://robot.example/x", "--secret", secret])
    assert bad.exit_code != 0 and "secret" in bad.output
    assert db.session.scalar(select(func.count()).select_from(UnitWebhook)) == 0


def test_every_transaction_of_a_delivery_that_writes_begins_with_its_write(app, demo, robot,
                                                                          runner):
    """On SQLite a transaction that read first and writes later fails at once with
    "database is locked" when someone else wrote in between (a sign-in, a step), where
    one that begins with its write waits its turn: the webhook's secret is read in the
    claim's transaction, after its UPDATE, not before the sent mark."""
    from sqlalchemy import event

    DingTalkRobot.secret = "SECsecret"
    assert runner.invoke(args=["webhook", "cq-yz", robot, "--secret", "SECsecret"]).exit_code == 0
    submit(demo)
    hook_id = _webhook_delivery().id
    db.session.commit()
    transactions: list[list[str]] = [[]]
    on_sql = lambda conn, cursor, statement, *rest: transactions[-1].append(  # noqa: E731
        statement.lstrip().split()[0].upper())
    on_end = lambda conn: transactions.append([])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", on_sql)
    event.listen(db.engine, "commit", on_end)
    event.listen(db.engine, "rollback", on_end)
    try:
        assert outbox.deliver([hook_id], now=NOW) == []
    finally:
        event.remove(db.engine, "before_cursor_execute", on_sql)
        event.remove(db.engine, "commit", on_end)
        event.remove(db.engine, "rollback", on_end)
    hook = db.session.get(Delivery, hook_id)
    assert hook.status == "sent" and DingTalkRobot.seen[-1]["query"]["sign"]
    writes = ("UPDATE", "INSERT", "DELETE", "WITH")
    written = [t for t in transactions if any(s in writes for s in t)]
    assert len(written) == 2  # the claim, the sent mark
    for statements in written:
        first = next(s for s in statements if s not in ("BEGIN", "SAVEPOINT"))
        assert first in writes, statements


def test_a_sweep_sending_digests_waits_for_a_request_that_wrote_instead_of_failing(app, demo):
    """The sweep reads the due deliveries, then marks the digests: on SQLite, a request
    (a sign-in, a step) committing in between made those marks fail at once with
    "database is locked" — logged by the job thread, the digests left for later."""
    import sqlite3

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's locking; PostgreSQL locks the digest rows it reads")
    instance = submit(demo)
    note = db.session.scalar(select(Notification))
    person_id, someone_id = note.user_id, demo["courier1"].id
    outbox.plan([Notification(user_id=person_id, kind="comment", title_key="x",
                              params={"process_name": "微心愿", "comment": "一"},
                              instance_id=instance.id, priority="low", created_at=NOW)],
                instance, NOW)
    outbox.queue_new()
    db.session.commit()
    later = NOW + timedelta(days=1)
    outbox.due_ids(later)  # the sweep's read: its transaction has its snapshot now
    other = sqlite3.connect(db.engine.url.database, timeout=10)
    try:  # someone else writes and commits meanwhile (a write that changes nothing is none)
        other.execute("UPDATE users SET display_name = display_name || '·' WHERE id = ?",
                      (someone_id,))
        other.commit()
    finally:
        other.close()
    assert outbox.send_digests(later) == 1
    assert db.session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.subject.contains("汇总"))) == 1
