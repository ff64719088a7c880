"""Notifications leave through the outbox: e-mail and webhook deliveries are rows, made in
the transaction of the step that caused them, claimed atomically by jobs after commit,
retried with backoff, and re-driven by a sweeper when a job was lost.

Fan-out: one event to N people is written with a few set-based statements, the same
number for 20 people as for 1,000 — the in-app notifications are one ``INSERT … SELECT``,
the outbox rows one ``INSERT … SELECT`` per kind of message (language, digest, quiet
hours), their only per-person part the list of ids; no ORM objects; each subject and
body rendered once — and queued as jobs of ``BATCH`` deliveries.

Delivery guarantee — at least once, duplicates bounded by ``DELIVERY_GROUP``:

* A job claims its deliveries ``DELIVERY_GROUP`` (default 20) at a time with one
  ``UPDATE … RETURNING`` (pending, or "sending" abandoned for ``DELIVERY_STALE_SECONDS``
  → "sending", attempts + 1), committed before the first of them is sent.  Two workers
  never both claim a row.
* It sends them one by one (one SMTP connection for the group), then marks the sent ones
  with one ``UPDATE``, committed with the claim of the next group (or at the end).
* A crash between a send and that commit (worker killed, database gone) leaves the
  group "sending"; the sweeper re-drives it after ``DELIVERY_STALE_SECONDS``, so what the
  group had already sent goes out again: **at most ``DELIVERY_GROUP`` messages re-sent
  per crash** (with ``DELIVERY_GROUP = 1``, at most one, as before batching).  Nothing is
  lost: a row leaves "sending" only by a committed "sent", "pending" (retry) or "failed".
  Every attempt carries the same ``Message-ID`` / ``Idempotency-Key``, so a receiver can
  drop the repeat.
* No re-send without a crash: a job sends a row only while its claim is younger than
  half of ``DELIVERY_STALE_SECONDS`` (a slow mail server); past that it gives the rest of
  the group back (pending, the attempt not counted) and claims it afresh, so the sweeper
  never re-drives a row a live job is still going to send.  A single send must take less
  than half of ``DELIVERY_STALE_SECONDS`` (SMTP and webhook time-outs are 10 s and 5 s).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time as _clock
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from email.header import Header
from email.utils import format_datetime, formataddr, getaddresses
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import bindparam, case, insert, literal, or_, select, update

from webapp.database import write_lock
from webapp.extensions import db
from webapp.models import (Delivery, Instance, Notification, NotificationSettings, OrgUnit,
                           UnitWebhook, User)
from webapp.queue import enqueue_after_commit
from webapp.notifications import short_title
from webapp.services import process_cache
from workflows.messages import render_title

CHINA = ZoneInfo("Asia/Shanghai")
BACKOFF_SECONDS = (10, 60, 300, 1800)
# News that asks nothing of the reader waits for the daily digest by e-mail (it is in the
# notification centre at once); tasks, returns, decisions and escalations go out now.
LOW_PRIORITY_KINDS = frozenset({"comment", "step_entered", "claimed", "objection_noted"})
BATCH = 100  # deliveries per job: one event to 1,000 people is ten jobs, not 1,000
SUBJECT_MAX = 120  # characters; the column holds 300
GROUP = 20  # default DELIVERY_GROUP: deliveries claimed, and marked sent, together
DIGEST_HOUR = 20
DELIVERIES = Delivery.__table__


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _monotonic() -> float:
    return _clock.monotonic()


# ------------------------------------------------------------------ planning

@dataclass(frozen=True, slots=True)
class Note:
    """A written in-app notification, as much of it as the outbox needs."""

    id: int
    user_id: int
    kind: str
    params: Mapping[str, Any]
    priority: str = "normal"


@lru_cache(maxsize=64)
def _new_notifications(names: tuple[str, ...]):
    """``INSERT … SELECT`` of one notification per person (an id each; only the list of
    ids, ``user_ids``, is per person), returning the new rows' ids and people.  Built
    once per set of ``names`` (the columns given, as parameters ``f_<name>``): a
    statement made afresh each time costs more CPU to build than to send."""
    n, u = Notification.__table__, User.__table__
    query = select(u.c.id, *[bindparam(f"f_{name}", type_=n.c[name].type) for name in names]
                   ).where(u.c.id.in_(bindparam("user_ids", expanding=True)))
    return insert(n).from_select(["user_id", *names], query).returning(n.c.id, n.c.user_id)


def _notification_params(user_ids: list[int], fields: Mapping[str, Any]) -> dict[str, Any]:
    params = {f"f_{name}": value for name, value in fields.items()}
    params["user_ids"] = user_ids
    return params


def _notes(user_ids: list[int], made: Mapping[int, int], fields: Mapping[str, Any]
           ) -> list[Note]:
    return [Note(made[user_id], user_id, fields["kind"], fields.get("params") or {},
                 fields.get("priority") or "normal") for user_id in user_ids if user_id in made]


def write_notifications(user_ids: Iterable[int], **fields) -> list[Note]:
    """One in-app notification per person, all alike but for the person (``fields``:
    kind, title_key, params, instance_id, task_key, priority, created_at), written with
    one ``INSERT … SELECT … RETURNING`` whose only per-person part is the list of ids —
    no ORM objects, no row of parameters per person.  Returns them as ``Note``s."""
    user_ids = list(dict.fromkeys(user_ids))
    if not user_ids:
        return []
    db.session.flush()  # whatever they refer to (the instance) is written first
    made = dict((user_id, i) for i, user_id in db.session.execute(
        _new_notifications(tuple(fields)), _notification_params(user_ids, fields)))
    return _notes(user_ids, made, fields)


# What ``plan`` reads of each person: address, language and settings (a person without
# a settings row has the defaults).
_PERSON = (User.id, User.email, User.locale, NotificationSettings.user_id,
           NotificationSettings.email_enabled, NotificationSettings.quiet_start,
           NotificationSettings.quiet_end, NotificationSettings.digest_low_priority)


def notify(user_ids: Iterable[int], instance: Instance, now: datetime, **fields) -> None:
    """``write_notifications`` then ``plan``: in-app notifications for one event and
    their outbox rows.  On PostgreSQL the notifications are written and their people read
    with their settings in one statement (the ``INSERT`` in a ``WITH``).

    A step's notifications on PostgreSQL go in the step's own statement instead
    (``workflow._Batch``, then ``plan_written``); this path stays the reference that
    ``tests/webapp/test_step_statement.py`` compares it with, and serves SQLite."""
    user_ids = list(dict.fromkeys(user_ids))
    if not user_ids:
        return
    if db.session.get_bind().dialect.name != "postgresql":
        plan(write_notifications(user_ids, **fields), instance, now)
        return
    db.session.flush()  # whatever they refer to (the instance) is written first
    rows = db.session.execute(_notified_people(tuple(fields)),
                              _notification_params(user_ids, fields)).all()
    plan_written(user_ids, {row.id: row for row in rows}, instance, now, **fields)


def plan_written(user_ids: list[int], people: Mapping[int, Any], instance: Instance,
                 now: datetime, **fields) -> None:
    """``plan`` for notifications already written (``fields`` alike but for the person)
    to ``people``: rows of ``_PERSON`` by person, each with its ``notification_id``."""
    notes = _notes(user_ids, {user_id: row.notification_id for user_id, row in people.items()},
                   fields)
    plan(notes, instance, now, people=people)


@lru_cache(maxsize=64)
def _notified_people(names: tuple[str, ...]):
    """PostgreSQL: ``_new_notifications`` in a WITH, and the people it wrote to with their
    settings (``_PERSON``) — built once per set of ``names``."""
    made = _new_notifications(names).cte("made")
    return (select(made.c.id.label("notification_id"), *_PERSON)
            .select_from(made.join(User, User.id == made.c.user_id)
                         .outerjoin(NotificationSettings,
                                    NotificationSettings.user_id == made.c.user_id)))


def plan(notifications: Iterable[Note | Notification], instance: Instance,
         now: datetime, *, people: Mapping[int, Any] | None = None) -> None:
    """Outbox rows for these in-app notifications (one event), queued after commit.

    Set-based: one query for the people with their settings (none when ``people``, rows
    of ``_PERSON`` by person, are given), and one ``INSERT … SELECT`` per kind of message
    (language, digest, quiet hours) whatever the number of people; each distinct subject
    and body is rendered once.  ORM ``Notification`` objects are accepted too (written
    first if they are new).
    """
    notes = list(notifications)
    if not notes:
        return
    if any(isinstance(n, Notification) and n.id is None for n in notes):
        db.session.add_all([n for n in notes if isinstance(n, Notification)])
        db.session.flush()
    if people is None:
        user_ids = list(dict.fromkeys(n.user_id for n in notes))
        people = {row.id: row for row in db.session.execute(
            select(*_PERSON)
            .outerjoin(NotificationSettings, NotificationSettings.user_id == User.id)
            .where(User.id.in_(user_ids)))}
    users, settings = {}, {}
    for user_id, row in people.items():
        users[user_id] = row
        if row.user_id is not None:
            settings[user_id] = row
    subjects: dict[tuple, str] = {}
    bodies: dict[tuple, str] = {}
    alike: dict[tuple, list[int]] = {}  # (subject, body, digest, due) → notification ids
    for note in notes:
        user = users.get(note.user_id)
        pref = settings.get(note.user_id) or _DEFAULT_SETTINGS
        if user is None or not user.email or not pref.email_enabled:
            continue
        locale = "en" if user.locale == "en" else "zh"
        key = (note.kind, id(note.params), locale)
        subject = subjects.get(key)
        if subject is None:
            subject = subjects[key] = render_title(note.kind, note.params or {}, locale)
        body = bodies.get((subject, locale))
        if body is None:
            body = bodies[(subject, locale)] = _email_body(subject, instance, locale)
        low = note.priority == "low" or (note.priority == "normal"
                                          and note.kind in LOW_PRIORITY_KINDS)
        digest = bool(low and pref.digest_low_priority)
        due = _next_digest(now) if digest else (
            now if note.priority == "high" else _after_quiet_hours(now, pref))
        alike.setdefault((subject, body, digest, due), []).append(note.id)
    made = []
    d, n, u = DELIVERIES, Notification.__table__, User.__table__
    for (subject, body, digest, due), note_ids in alike.items():
        # One INSERT … SELECT per kind of message (language, digest, quiet hours): the
        # person, address and notification come from the rows just written.
        fields = _row("email", subject_line(subject), body, digest, due, now)
        query = (select(n.c.id, n.c.user_id, u.c.email,
                        *[literal(value, d.c[name].type) for name, value in fields.items()])
                 .select_from(n.join(u, u.c.id == n.c.user_id))
                 .where(n.c.id.in_(note_ids)))
        made += db.session.execute(insert(d).from_select(
            ["notification_id", "user_id", "target", *fields], query)
            .returning(d.c.id, d.c.digest)).all()
    hook = _webhook_for(instance)
    if hook is not None:
        first = notes[0]
        made += _post_to_chat(hook, instance, now, first.kind, first.params,
                              notification_id=first.id, recipients=len(notes))
    db.session.info.setdefault("new_deliveries", []).extend(
        sorted((i, bool(digest)) for i, digest in made))


def announce(instance: Instance, now: datetime, *, kind: str, params: Mapping[str, Any],
             **_fields) -> None:
    """An event that tells nobody (its only recipient was the one who acted: an applicant
    withdrawing a request nobody else held): the unit's group chat still hears of it, in
    one webhook delivery about no notification.  Without a webhook for the request's unit
    no statement at all (the webhooks are this process's copy)."""
    hook = _webhook_for(instance)
    if hook is None:
        return
    made = _post_to_chat(hook, instance, now, kind, params, notification_id=None,
                         recipients=0)
    db.session.info.setdefault("new_deliveries", []).extend(
        (i, bool(digest)) for i, digest in made)


def _post_to_chat(hook: _Hook, instance: Instance, now: datetime, kind: str,
                  params: Mapping[str, Any], *, notification_id: int | None,
                  recipients: int) -> list:
    """The outbox row of one event for a group chat's bot (one ``INSERT``): the short
    one-line title, as in the notification centre.  Its (id, digest)."""
    text = short_title(kind, params, "zh")
    body = json.dumps({"msgtype": "text", "text": {"content": text},
                       "instance_id": instance.id, "kind": kind,
                       "recipients": recipients}, ensure_ascii=False)
    d = DELIVERIES
    return db.session.execute(insert(d).values(
        notification_id=notification_id, user_id=None, target=hook.url,
        **_row("webhook", subject_line(text), body, False, now, now))
        .returning(d.c.id, d.c.digest)).all()


@dataclass(frozen=True, slots=True)
class _Settings:
    email_enabled: bool = True
    quiet_start: time | None = None
    quiet_end: time | None = None
    digest_low_priority: bool = True


_DEFAULT_SETTINGS = _Settings()


def _row(channel, subject, body, digest, due, now) -> dict:
    """The columns of an outbox row that are not about its person."""
    return {"channel": channel, "subject": subject, "body": body, "digest": digest,
            "status": "pending", "attempts": 0, "due_at": due, "created_at": now}


def queue_new() -> None:
    """Enqueue the deliveries this transaction made, in batches, once it commits."""
    rows = db.session.info.pop("new_deliveries", [])
    if not rows:
        return
    due = [delivery_id for delivery_id, digest in rows if not digest]
    for i in range(0, len(due), BATCH):
        from webapp import jobs

        enqueue_after_commit(jobs.deliver, due[i:i + BATCH])


def subject_line(text: str) -> str:
    """A title as a mail subject: one line (a line break would end the header, or make the
    mail unsendable) and short (a comment can run to 2,000 characters; the message's text
    keeps all of it)."""
    line = " ".join(text.split())
    return line if len(line) <= SUBJECT_MAX else line[:SUBJECT_MAX - 1] + "…"


def _link(path: str) -> str:
    """An address of this site for a message read elsewhere (``PUBLIC_URL`` + path)."""
    return current_app.config.get("PUBLIC_URL", "").rstrip("/") + path


def _email_body(subject: str, instance: Instance, locale: str) -> str:
    link = _link(f"/instances/{instance.id}")
    # Which request: two "new task" mails of one process are otherwise the same.
    title = instance.title_in(locale)
    about = f"{title} #{instance.id}" if title else f"#{instance.id}"
    if locale == "en":
        return f"{subject}\n\nRequest: {about}\nOpen: {link}\n\n— Union Services"
    return f"{subject}\n\n事项：{about}\n查看详情：{link}\n\n——工会服务平台"


@dataclass(frozen=True, slots=True)
class _Hook:
    unit_id: int
    url: str


_HOOKS_KEY = "unionflow_webhooks"


def _active_hooks() -> dict[int, _Hook]:
    """The active unit webhooks by unit, read at most every WEBHOOK_CACHE_SECONDS per
    process (a handful of rows that change by `flask webhook`, which clears this
    process's copy; other processes see a change within that many seconds) — instead of
    a query in every step that notifies anyone."""
    def load() -> dict[int, _Hook]:
        rows = db.session.execute(select(UnitWebhook.unit_id, UnitWebhook.url)
                                  .where(UnitWebhook.active.is_(True))).all()
        return {u: _Hook(u, url) for u, url in rows}

    return process_cache.cached(_HOOKS_KEY, "WEBHOOK_CACHE_SECONDS", load)


def forget_webhooks() -> None:
    """Read the webhooks again at the next step (after they were changed here)."""
    process_cache.forget(_HOOKS_KEY)


def _webhook_for(instance: Instance) -> _Hook | None:
    hooks = _active_hooks()
    if not hooks or not instance.unit_id:
        return None
    # The unit as it is now (the step's directory has it in this session: no query).
    unit = db.session.get(OrgUnit, instance.unit_id)
    if unit is None:
        return None
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


class Claimed(NamedTuple):
    """A delivery claimed for sending, with what sending it needs."""
    id: int
    channel: str
    target: str
    subject: str
    body: str
    attempts: int
    secret: str | None = None  # a webhook's signing secret (``flask webhook --secret``)


def claim(ids: list[int], now: datetime) -> list[Claimed]:
    """pending (or abandoned sending) → sending, atomically, for those of ``ids`` that can
    be; one ``UPDATE … RETURNING``, committed (with whatever the session had to commit)
    before anything is sent.  Returns the claimed rows (id, channel, target, subject,
    body, attempts, and a webhook's secret), in the order of ``ids``."""
    if not ids:
        return []
    stale = now - timedelta(seconds=_config("DELIVERY_STALE_SECONDS", 60))
    t = DELIVERIES
    rows = db.session.execute(
        update(t).where(
            t.c.id.in_(ids), t.c.due_at <= now, t.c.digest.is_(False),
            or_(t.c.status == "pending", (t.c.status == "sending") & (t.c.claimed_at < stale)))
        .values(status="sending", claimed_at=now, attempts=t.c.attempts + 1)
        .returning(t.c.id, t.c.channel, t.c.target, t.c.subject, t.c.body,
                   t.c.attempts)).all()
    # Read here, in the transaction that wrote: on SQLite a read that began the next one
    # (where the sent rows are marked) would make its write fail with "database is
    # locked" whenever someone else wrote in between, instead of waiting its turn.
    secrets = _secrets_for({r.target for r in rows if r.channel == "webhook"})
    db.session.commit()
    order = {delivery_id: i for i, delivery_id in enumerate(ids)}
    return sorted((Claimed(*r, secret=secrets.get(r.target)) for r in rows),
                  key=lambda r: order.get(r.id, 0))


def _group_size() -> int:
    return max(1, int(_config("DELIVERY_GROUP", GROUP)))


def deliver(ids: list[int], now: datetime | None = None) -> list[int]:
    """Send each delivery that can be claimed; returns the ids that failed this time.

    ``DELIVERY_GROUP`` at a time: claim the group (one UPDATE … RETURNING, committed),
    send each row, mark the sent ones (one UPDATE) — committed with the next claim, or
    at the end.  See the module docstring for what a crash can repeat.
    """
    failed: list[int] = []
    todo = list(dict.fromkeys(ids))
    size = _group_size()
    lease = _config("DELIVERY_STALE_SECONDS", 60) / 2
    mailer = _Mailer()
    try:
        while todo:
            group, todo = todo[:size], todo[size:]
            claimed = now or _now()
            rows = claim(group, claimed)  # commits the marks of the group before
            leased = _monotonic()
            sent: list[int] = []
            for i, row in enumerate(rows):
                if i and _monotonic() - leased > lease:
                    # Slow sending: give the rest back before the sweeper could think it
                    # abandoned, and claim it afresh as the next group.
                    rest = [r.id for r in rows[i:]]
                    _release(rest, claimed)
                    todo = rest + todo
                    break
                try:
                    SENDERS[row.channel](row, mailer)
                except Exception as exc:  # noqa: BLE001 - any failure of a channel is retried
                    current_app.logger.warning("delivery %s failed: %s", row.id, exc)
                    _failed(row, claimed, exc)
                    failed.append(row.id)
                else:
                    sent.append(row.id)
            if sent:
                t = DELIVERIES
                db.session.execute(update(t).where(
                    t.c.id.in_(sent), t.c.status == "sending", t.c.claimed_at == claimed)
                    .values(status="sent", sent_at=_now(), last_error=None))
            mailer.close()  # one connection per group: not held while the next is claimed
        db.session.commit()
    finally:
        mailer.close()
    return failed


def _release(ids: list[int], claimed: datetime) -> None:
    """Hand claimed rows back unsent (the attempt does not count)."""
    t = DELIVERIES
    db.session.execute(update(t).where(
        t.c.id.in_(ids), t.c.status == "sending", t.c.claimed_at == claimed).values(
        status="pending", claimed_at=None, attempts=case(
            (t.c.attempts > 0, t.c.attempts - 1), else_=0)))


def _failed(delivery, claimed: datetime, exc: Exception) -> None:
    attempts = delivery.attempts
    # An address that cannot be used fails at once: trying again would not help.
    final = attempts >= _config("DELIVERY_MAX_ATTEMPTS", 5) or isinstance(exc, AddressError)
    wait = BACKOFF_SECONDS[min(attempts - 1, len(BACKOFF_SECONDS) - 1)]
    t = DELIVERIES
    db.session.execute(update(t).where(
        t.c.id == delivery.id, t.c.claimed_at == claimed).values(
        status="failed" if final else "pending", last_error=str(exc)[:2000],
        due_at=claimed + timedelta(seconds=wait)))


def redrive(delivery: Delivery) -> None:
    """An administrator sends a failed delivery again."""
    delivery.status, delivery.attempts, delivery.due_at = "pending", 0, _now()
    delivery.last_error = None
    from webapp import jobs

    enqueue_after_commit(jobs.deliver, [delivery.id])


class _Mailer:
    """The mail backend for one group: one SMTP connection, opened at the first e-mail and
    dropped after a failure (the next e-mail opens a new one)."""

    def __init__(self):
        self.smtp = None

    def send(self, delivery, content: bytes, sender: str) -> None:
        backend = _config("MAIL_BACKEND", "file")
        if backend == "smtp":
            if self.smtp is None:
                self.smtp = _smtp_connect()
            try:
                self.smtp.sendmail(mailbox(sender), [mailbox(delivery.target)], content)
            except Exception:
                self.close()
                raise
        elif backend == "console":
            current_app.logger.info("mail to %s: %s", delivery.target, delivery.subject)
        else:
            _write_file(delivery, content)

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except Exception:  # noqa: BLE001 - the messages were accepted already
                smtp.close()


def _smtp_connect():
    import smtplib

    # MAIL_USE_SSL: TLS from the first byte (port 465); MAIL_USE_TLS: STARTTLS (587).
    ssl = _config("MAIL_USE_SSL", False)
    smtp = (smtplib.SMTP_SSL if ssl else smtplib.SMTP)(
        _config("MAIL_SERVER", "localhost"), int(_config("MAIL_PORT", 465 if ssl else 25)),
        timeout=10)
    try:
        if _config("MAIL_USE_TLS", False):
            smtp.starttls()
        if _config("MAIL_USERNAME", None):
            smtp.login(_config("MAIL_USERNAME", ""), _config("MAIL_PASSWORD", ""))
    except Exception:
        smtp.close()
        raise
    return smtp


def email_bytes(delivery, sender: str, now: datetime | None = None) -> bytes:
    """The message as sent: plain text in UTF-8, one-line headers (RFC 2047 when not
    ASCII), every line ended by CRLF — smtplib sends bytes as they are, and a bare LF is
    refused by strict servers since the SMTP smuggling fixes.  Built from cached pieces —
    a fan-out sends the same subject and body to everyone — instead of an
    ``email.message`` object per message (about 1 ms each)."""
    # subject_line: rows planned before subjects were made one short line.
    return (f"Subject: {_header(subject_line(delivery.subject))}\r\n"
            f"From: {_address(sender)}\r\n"
            f"To: {_address(delivery.target)}\r\n"
            f"Date: {format_datetime((now or datetime.now(timezone.utc)).astimezone(CHINA))}\r\n"
            # The same id on every attempt: a receiving server drops a duplicate resend.
            f"Message-ID: <delivery-{delivery.id}@{_message_domain(sender)}>\r\n"
            "MIME-Version: 1.0\r\n").encode("ascii") + _body(delivery.body)


@lru_cache(maxsize=512)
def _header(value: str) -> str:
    value = " ".join(str(value).splitlines())  # one line: nothing can inject a header
    if value.isascii() and "=?" not in value and len(value) < 900:
        return value
    return Header(value, "utf-8", header_name="Subject").encode(linesep="\r\n")


_CRLF = "\r\n"


class AddressError(ValueError):
    """An e-mail address this sender cannot use: sending again will not help."""


@lru_cache(maxsize=512)
def _parsed(value: str) -> tuple[str, str]:
    """(display name, ASCII addr-spec) of exactly one address, its domain punycoded
    (工会.中国 → xn--…); ``AddressError`` for anything else — no address, several, no
    domain, or a mailbox in another script (it needs SMTPUTF8, which this sender does
    not speak)."""
    found = getaddresses([" ".join(str(value).splitlines())])
    if len(found) != 1:
        raise AddressError(f"not one e-mail address: {value!r}")
    name, address = found[0]
    local, _at, domain = address.rpartition("@")
    if not local or not domain or any(ch.isspace() for ch in address):
        raise AddressError(f"not an e-mail address: {value!r}")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise AddressError(f"not a valid domain: {value!r}") from None
    if not local.isascii():
        raise AddressError(f"the mailbox of {value!r} is not in ASCII letters (SMTPUTF8)")
    return name, f"{local}@{domain}"


def mailbox(value: str) -> str:
    """The address as the SMTP envelope carries it (MAIL FROM, RCPT TO)."""
    return _parsed(value)[1]


@lru_cache(maxsize=512)
def _address(value: str) -> str:
    """An address header: a display name encoded (``重庆市总工会 <noreply@…>``), the
    address itself left readable — encoding the whole value, as a subject is, leaves a
    From with no address in it, which mail services refuse."""
    name, address = _parsed(value)
    if name and not name.isascii():  # folded into encoded-words of RFC 2047's length
        encoded = Header(name, "utf-8", header_name="From").encode(linesep=_CRLF)
        last = encoded.rpartition(_CRLF)[2] if _CRLF in encoded else "From: " + encoded
        fold = _CRLF if len(last) + len(address) + 3 > 78 else ""
        return f"{encoded}{fold} <{address}>"
    return formataddr((name, address))


def _message_domain(sender: str) -> str:
    """The sender's domain, for Message-IDs (a bare word is not a valid id's right part);
    ``_parsed`` keeps the parse."""
    return _parsed(sender)[1].rpartition("@")[2]


@lru_cache(maxsize=64)
def _body(text: str) -> bytes:
    text = "\r\n".join(str(text).splitlines()) + "\r\n"
    if text.isascii() and all(len(line) <= 78 for line in text.split("\r\n")):
        return (b'Content-Type: text/plain; charset="utf-8"\r\n'
                b"Content-Transfer-Encoding: 7bit\r\n\r\n" + text.encode("ascii"))
    encoded = base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")
    return (b'Content-Type: text/plain; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded)


def send_email(delivery, mailer: _Mailer | None = None) -> None:
    own = mailer is None
    mailer = mailer or _Mailer()
    try:
        sender = _config("MAIL_FROM", "noreply@unionflow.local")
        mailer.send(delivery, email_bytes(delivery, sender), sender)
    finally:
        if own:
            mailer.close()


def _write_file(delivery, content: bytes) -> None:
    """Development outbox: one file per delivery, written whole or not at all."""
    outbox = Path(_config("MAIL_OUTBOX", "") or Path(current_app.instance_path) / "outbox")
    outbox.mkdir(parents=True, exist_ok=True)
    delay = float(_config("MAIL_FILE_DELAY", 0))  # tests: a slow mail server
    if delay:
        _clock.sleep(delay)
    target = outbox / f"delivery-{delivery.id}.eml"
    partial = target.with_suffix(".tmp")
    partial.write_bytes(content)
    partial.replace(target)


def send_webhook(delivery, mailer: _Mailer | None = None) -> None:
    url = signed_url(delivery.target, delivery.secret)
    request = urllib.request.Request(
        url, data=delivery.body.encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8",
                 "Idempotency-Key": f"delivery-{delivery.id}"})
    try:
        with urllib.request.urlopen(request, timeout=float(_config("WEBHOOK_TIMEOUT", 5))) as resp:
            if resp.status >= 300:
                raise RuntimeError(f"webhook answered {resp.status}")
            answer = resp.read(_ANSWER_LIMIT)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise RuntimeError(f"webhook answered {exc.code}") from None
    refusal = robot_refusal(answer)
    if refusal:
        raise RuntimeError(refusal)


_ANSWER_LIMIT = 64 * 1024  # a robot's answer is a line of JSON; more is not read


def robot_refusal(answer: bytes) -> str | None:
    """Why a WeCom or DingTalk robot refused the message, or None if it did not.

    They answer a refusal — a wrong key or signature, a keyword missing, too many
    messages a minute — with HTTP 200 and a JSON ``errcode`` other than 0; counted as
    sent, the message would be lost without a trace.  Any other answer (not JSON, no
    ``errcode``: another kind of receiver) is taken as the status code says."""
    try:
        doc = json.loads(answer)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get("errcode") in (None, 0, "0"):
        return None
    message = str(doc.get("errmsg") or "")[:300]
    return f"webhook refused the message: errcode {doc['errcode']} {message}".strip()


def _secrets_for(urls: set[str]) -> dict[str, str]:
    """The signing secrets kept with these webhook URLs (``flask webhook … --secret``);
    an active hook's first if two units share a URL."""
    if not urls:
        return {}
    rows = db.session.execute(select(UnitWebhook.url, UnitWebhook.secret).where(
        UnitWebhook.url.in_(urls), UnitWebhook.secret.is_not(None))
        .order_by(UnitWebhook.active.asc(), UnitWebhook.id.desc())).all()
    return dict(rows)  # the last of each URL wins: active, then the oldest


def signed_url(url: str, secret: str | None, now_ms: int | None = None) -> str:
    """``url`` with DingTalk's 加签 added (``timestamp`` in milliseconds and ``sign``, the
    Base64 of an HMAC-SHA256 of "timestamp\\nsecret" keyed by the secret), or as it is
    without a secret.  DingTalk refuses a timestamp more than an hour off: it is taken
    at each attempt, not when the message was written."""
    if not secret:
        return url
    timestamp = str(now_ms if now_ms is not None else int(_clock.time() * 1000))
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode("utf-8"),
                      hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    joiner = "&" if urllib.parse.urlsplit(url).query else "?"
    return f"{url}{joiner}timestamp={timestamp}&sign={sign}"


SENDERS = {"email": send_email, "webhook": send_webhook}


# ------------------------------------------------------------------ sweeping

def due_ids(now: datetime, limit: int = 5000) -> list[int]:
    stale = now - timedelta(seconds=_config("DELIVERY_STALE_SECONDS", 60))
    return list(db.session.scalars(select(Delivery.id).where(
        Delivery.digest.is_(False), Delivery.due_at <= now,
        or_(Delivery.status == "pending",
            (Delivery.status == "sending") & (Delivery.claimed_at < stale)))
        .order_by(Delivery.id).limit(limit)))


def _requests_of(delivery_ids: list[int]) -> dict[int, tuple[int, str, str | None]]:
    """The request (id, title, English title) each of these deliveries is about, if it
    is about one."""
    if not delivery_ids:
        return {}
    rows = db.session.execute(
        select(Delivery.id, Instance.id, Instance.title, Instance.title_en)
        .join(Notification, Notification.id == Delivery.notification_id)
        .join(Instance, Instance.id == Notification.instance_id)
        .where(Delivery.id.in_(delivery_ids))).all()
    return {delivery_id: (instance_id, title or "", title_en)
            for delivery_id, instance_id, title, title_en in rows}


def _digest_body(group: list, about: dict[int, tuple[int, str, str | None]],
                 locale: str) -> str:
    """The day's messages by the request each is about (its title, number and link), the
    requests in the order of their first message; messages about none come last."""
    by_request: dict[tuple[int, str, str | None] | None, list[str]] = {}
    for delivery in group:
        by_request.setdefault(about.get(delivery.id), []).append(delivery.subject)
    blocks = []
    for request_, subjects in sorted(by_request.items(), key=lambda kv: kv[0] is None):
        lines = [f"· {s}" for s in subjects]
        if request_ is not None:
            instance_id, title, title_en = request_
            title = title_en if locale == "en" and title_en else title
            lines = [f"{title} #{instance_id}".strip()] + lines + [
                "  " + _link(f"/instances/{instance_id}")]
        else:
            lines = [("Other messages" if locale == "en" else "其他消息")] + lines
        blocks.append("\n".join(lines))
    center = _link("/notifications")
    if locale == "en":
        return "\n\n".join(blocks) + f"\n\nAll your messages: {center}\n\n— Union Services"
    return "\n\n".join(blocks) + f"\n\n全部消息：{center}\n\n——工会服务平台"


def send_digests(now: datetime) -> int:
    """One e-mail per person gathering their due low-priority messages."""
    # Read and marked under the write lock: on SQLite a read first would make the marks
    # fail ("database is locked") whenever a request wrote in between.
    with write_lock():
        rows = db.session.scalars(select(Delivery).where(
            Delivery.digest.is_(True), Delivery.status == "pending", Delivery.due_at <= now)
            .order_by(Delivery.user_id, Delivery.id).with_for_update()).all()
        sent = 0
        by_target: dict[str, list[Delivery]] = {}
        for row in rows:
            by_target.setdefault(row.target, []).append(row)
        people = [group[0].user_id for group in by_target.values()]
        english = set(db.session.scalars(select(User.id).where(
            User.id.in_(people), User.locale == "en"))) if people else set()
        about = _requests_of([row.id for row in rows])
        for target, group in by_target.items():
            locale = "en" if group[0].user_id in english else "zh"
            subject = (f"Today's messages ({len(group)})" if locale == "en"
                       else f"今日消息汇总（{len(group)} 条）")  # in the person's language
            digest = Delivery(user_id=group[0].user_id, channel="email", target=target,
                              subject=subject, body=_digest_body(group, about, locale),
                              due_at=now, created_at=now)
            db.session.add(digest)
            for d in group:
                d.status, d.sent_at = "sent", now
            db.session.flush()
            db.session.info.setdefault("new_deliveries", []).append((digest.id, False))
            sent += 1
        queue_new()
    db.session.commit()
    return sent
