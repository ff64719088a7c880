"""Notifications leave through the outbox: e-mail and webhook deliveries are rows, made in
the transaction of the step that caused them, claimed atomically by jobs after commit,
retried with backoff, and re-driven by a sweeper when a job was lost."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, time, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import or_, select, update

from webapp.extensions import db
from webapp.models import (Delivery, Instance, Notification, NotificationSettings, OrgUnit,
                           UnitWebhook, User)
from webapp.queue import enqueue_after_commit
from workflows.messages import render_title

CHINA = ZoneInfo("Asia/Shanghai")
BACKOFF_SECONDS = (10, 60, 300, 1800)
# News that asks nothing of the reader waits for the daily digest by e-mail (it is in the
# notification centre at once); tasks, returns, decisions and escalations go out now.
LOW_PRIORITY_KINDS = frozenset({"comment", "step_entered", "claimed", "objection_noted"})
BATCH = 100  # deliveries per job: one event to 1,000 people is ten jobs, not 1,000
SUBJECT_MAX = 120  # characters; the column holds 300
DIGEST_HOUR = 20


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ------------------------------------------------------------------ planning

def plan(notifications: list[Notification], instance: Instance, now: datetime) -> None:
    """Outbox rows for these in-app notifications (one event), queued after commit."""
    if not notifications:
        return
    users = {u.id: u for u in db.session.scalars(select(User).where(
        User.id.in_([n.user_id for n in notifications])))}
    with_email = [u.id for u in users.values() if u.email]  # nobody else gets a delivery
    settings = {s.user_id: s for s in db.session.scalars(select(NotificationSettings).where(
        NotificationSettings.user_id.in_(with_email)))} if with_email else {}
    rows = []
    for note in notifications:
        user = users.get(note.user_id)
        pref = settings.get(note.user_id) or NotificationSettings(email_enabled=True,
                                                                   digest_low_priority=True)
        if user is None or not user.email or not pref.email_enabled:
            continue
        locale = "en" if user.locale == "en" else "zh"
        subject = render_title(note.kind, note.params or {}, locale)
        low = note.priority == "low" or (note.priority == "normal"
                                          and note.kind in LOW_PRIORITY_KINDS)
        digest = low and pref.digest_low_priority
        due = _next_digest(now) if digest else (
            now if note.priority == "high" else _after_quiet_hours(now, pref))
        rows.append(Delivery(notification=note, user_id=user.id, channel="email",
                             target=user.email, subject=subject_line(subject), digest=digest,
                             body=_email_body(subject, instance, locale), due_at=due,
                             created_at=now))
    hook = _webhook_for(instance)
    if hook is not None:
        first = notifications[0]
        text = render_title(first.kind, first.params or {}, "zh")
        rows.append(Delivery(notification=first, channel="webhook", target=hook.url,
                             subject=subject_line(text), body=json.dumps({
                                 "msgtype": "text", "text": {"content": text},
                                 "instance_id": instance.id, "kind": first.kind,
                                 "recipients": len(notifications)}, ensure_ascii=False),
                             due_at=now, created_at=now))
    db.session.add_all(rows)
    db.session.info.setdefault("new_deliveries", []).extend(rows)


def queue_new() -> None:
    """Enqueue the deliveries this transaction made, in batches, once it commits."""
    rows = db.session.info.pop("new_deliveries", [])
    if not rows:
        return
    db.session.flush()
    due = [r.id for r in rows if not r.digest]
    for i in range(0, len(due), BATCH):
        from webapp import jobs

        enqueue_after_commit(jobs.deliver, due[i:i + BATCH])


def subject_line(text: str) -> str:
    """A title as a mail subject: one line (a line break would end the header, or make the
    mail unsendable) and short (a comment can run to 2,000 characters; the message's text
    keeps all of it)."""
    line = " ".join(text.split())
    return line if len(line) <= SUBJECT_MAX else line[:SUBJECT_MAX - 1] + "…"


def _email_body(subject: str, instance: Instance, locale: str) -> str:
    base = current_app.config.get("PUBLIC_URL", "").rstrip("/")
    link = f"{base}/instances/{instance.id}"
    if locale == "en":
        return f"{subject}\n\nOpen: {link}\n\n— Union Services"
    return f"{subject}\n\n查看详情：{link}\n\n——工会服务平台"


def _webhook_for(instance: Instance) -> UnitWebhook | None:
    unit = db.session.get(OrgUnit, instance.unit_id) if instance.unit_id else None
    if unit is None:
        return None
    hooks = {h.unit_id: h for h in db.session.scalars(select(UnitWebhook).where(
        UnitWebhook.unit_id.in_(unit.ancestor_ids), UnitWebhook.active.is_(True)))}
    return next((hooks[i] for i in reversed(unit.ancestor_ids) if i in hooks), None)


def _after_quiet_hours(now: datetime, pref: NotificationSettings) -> datetime:
    start, end = pref.quiet_start, pref.quiet_end
    if start is None or end is None or start == end:
        return now
    local = now.astimezone(CHINA)
    t = local.timetz().replace(tzinfo=None)
    quiet = (start <= t < end) if start < end else (t >= start or t < end)
    if not quiet:
        return now
    wake = datetime.combine(local.date(), end, tzinfo=CHINA)
    if wake <= local:
        wake += timedelta(days=1)
    return wake.astimezone(timezone.utc)


def _next_digest(now: datetime) -> datetime:
    local = now.astimezone(CHINA)
    at = datetime.combine(local.date(), time(DIGEST_HOUR), tzinfo=CHINA)
    if at <= local:
        at += timedelta(days=1)
    return at.astimezone(timezone.utc)


# ------------------------------------------------------------------ delivering

def _config(name: str, default):
    return current_app.config.get(name, default)


def claim(delivery_id: int, now: datetime) -> datetime | None:
    """pending (or abandoned sending) → sending, atomically; the claim time, or None."""
    stale = now - timedelta(seconds=_config("DELIVERY_STALE_SECONDS", 60))
    result = db.session.execute(
        update(Delivery).where(
            Delivery.id == delivery_id, Delivery.due_at <= now, Delivery.digest.is_(False),
            or_(Delivery.status == "pending",
                (Delivery.status == "sending") & (Delivery.claimed_at < stale)))
        .values(status="sending", claimed_at=now, attempts=Delivery.attempts + 1))
    # Visible before the slow part starts (with the outcome of the delivery before it).
    db.session.commit()
    return now if result.rowcount == 1 else None


def deliver(ids: list[int], now: datetime | None = None) -> list[int]:
    """Send each delivery that can be claimed; returns the ids that failed this time.

    One commit per delivery: the outcome of one (sent, or failed) is committed together
    with the claim of the next, just before that one is sent, and the last at the end.
    """
    failed = []
    for delivery_id in ids:
        started = now or _now()
        claimed = claim(delivery_id, started)
        if claimed is None:
            continue  # sent already, claimed by another worker, or not due
        delivery = db.session.get(Delivery, delivery_id)
        try:
            SENDERS[delivery.channel](delivery)
        except Exception as exc:  # noqa: BLE001 - any failure of a channel is retried
            current_app.logger.warning("delivery %s failed: %s", delivery_id, exc)
            _failed(delivery, claimed, exc)
            failed.append(delivery_id)
        else:
            db.session.execute(update(Delivery).where(
                Delivery.id == delivery_id, Delivery.status == "sending",
                Delivery.claimed_at == claimed).values(status="sent", sent_at=_now(),
                                                       last_error=None))
    db.session.commit()
    return failed


def _failed(delivery: Delivery, claimed: datetime, exc: Exception) -> None:
    attempts = delivery.attempts
    final = attempts >= _config("DELIVERY_MAX_ATTEMPTS", 5)
    wait = BACKOFF_SECONDS[min(attempts - 1, len(BACKOFF_SECONDS) - 1)]
    db.session.execute(update(Delivery).where(
        Delivery.id == delivery.id, Delivery.claimed_at == claimed).values(
        status="failed" if final else "pending", last_error=str(exc)[:2000],
        due_at=claimed + timedelta(seconds=wait)))


def redrive(delivery: Delivery) -> None:
    """An administrator sends a failed delivery again."""
    delivery.status, delivery.attempts, delivery.due_at = "pending", 0, _now()
    delivery.last_error = None
    from webapp import jobs

    enqueue_after_commit(jobs.deliver, [delivery.id])


def send_email(delivery: Delivery) -> None:
    message = EmailMessage()
    message["Subject"] = subject_line(delivery.subject)  # rows planned before it was so
    message["From"] = _config("MAIL_FROM", "noreply@unionflow.local")
    message["To"] = delivery.target
    # The same id on every attempt: a receiving server drops a duplicate of a resend.
    message["Message-ID"] = f"<delivery-{delivery.id}@unionflow>"
    message.set_content(delivery.body)
    backend = _config("MAIL_BACKEND", "file")
    if backend == "smtp":
        import smtplib

        with smtplib.SMTP(_config("MAIL_SERVER", "localhost"), int(_config("MAIL_PORT", 25)),
                          timeout=10) as smtp:
            if _config("MAIL_USE_TLS", False):
                smtp.starttls()
            if _config("MAIL_USERNAME", None):
                smtp.login(_config("MAIL_USERNAME", ""), _config("MAIL_PASSWORD", ""))
            smtp.send_message(message)
    elif backend == "console":
        current_app.logger.info("mail to %s: %s", delivery.target, delivery.subject)
    else:
        _write_file(delivery, message.as_bytes())


def _write_file(delivery: Delivery, content: bytes) -> None:
    """Development outbox: one file per delivery, written whole or not at all."""
    import time as _time

    outbox = Path(_config("MAIL_OUTBOX", "") or Path(current_app.instance_path) / "outbox")
    outbox.mkdir(parents=True, exist_ok=True)
    delay = float(_config("MAIL_FILE_DELAY", 0))  # tests: a slow mail server
    if delay:
        _time.sleep(delay)
    target = outbox / f"delivery-{delivery.id}.eml"
    partial = target.with_suffix(".tmp")
    partial.write_bytes(content)
    partial.replace(target)


def send_webhook(delivery: Delivery) -> None:
    request = urllib.request.Request(
        delivery.target, data=delivery.body.encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8",
                 "Idempotency-Key": f"delivery-{delivery.id}"})
    try:
        with urllib.request.urlopen(request, timeout=float(_config("WEBHOOK_TIMEOUT", 5))) as resp:
            if resp.status >= 300:
                raise RuntimeError(f"webhook answered {resp.status}")
    except urllib.error.HTTPError as exc:
        exc.close()
        raise RuntimeError(f"webhook answered {exc.code}") from None


SENDERS = {"email": send_email, "webhook": send_webhook}


# ------------------------------------------------------------------ sweeping

def due_ids(now: datetime, limit: int = 5000) -> list[int]:
    stale = now - timedelta(seconds=_config("DELIVERY_STALE_SECONDS", 60))
    return list(db.session.scalars(select(Delivery.id).where(
        Delivery.digest.is_(False), Delivery.due_at <= now,
        or_(Delivery.status == "pending",
            (Delivery.status == "sending") & (Delivery.claimed_at < stale)))
        .order_by(Delivery.id).limit(limit)))


def send_digests(now: datetime) -> int:
    """One e-mail per person gathering their due low-priority messages."""
    rows = db.session.scalars(select(Delivery).where(
        Delivery.digest.is_(True), Delivery.status == "pending", Delivery.due_at <= now)
        .order_by(Delivery.user_id, Delivery.id).with_for_update()).all()
    sent = 0
    by_target: dict[str, list[Delivery]] = {}
    for row in rows:
        by_target.setdefault(row.target, []).append(row)
    for target, group in by_target.items():
        lines = "\n".join(f"· {d.subject}" for d in group)
        digest = Delivery(user_id=group[0].user_id, channel="email", target=target,
                          subject=f"今日消息汇总（{len(group)} 条）", body=lines, due_at=now,
                          created_at=now)
        db.session.add(digest)
        for d in group:
            d.status, d.sent_at = "sent", now
        db.session.flush()
        db.session.info.setdefault("new_deliveries", []).append(digest)
        sent += 1
    queue_new()
    db.session.commit()
    return sent
