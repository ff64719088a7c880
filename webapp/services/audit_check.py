"""Verifying the audit chain from its page: ``audit.verify`` — the very check
``flask audit verify`` runs — as a job, with its progress and result kept in Redis.

Verifying reads and hashes the whole log (about 20,000 entries a second on PostgreSQL:
a million take ~45 s, ``bench/audit_verify.py``), far too long for a request, so the
page starts a job and shows a page that follows it.  One verification runs at a time:
starting another while one runs leads to the one running.  A run's state lives in Redis
only — nothing in the database changes: a verification changes nothing, so it is not an
audit entry (the log records changes; a read-only supervisor must not be able to add to
it at will).  Who started which run, and its result, go to the application log.
"""
from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import AuditEntry, User

_PREFIX = "unionflow:audit-verify:"
RUNNING = _PREFIX + "running"  # the id of the run under way (one at a time)
LATEST = _PREFIX + "latest"  # the id of the last run that finished
# A running run's keys expire unless its job keeps writing progress: a worker that died
# leaves no run "under way" for ever.  A finished run is kept a week.
ALIVE_FOR = 600
KEPT_FOR = 7 * 24 * 3600
JOB_TIMEOUT = 3 * 3600  # a generous bound; 10 million entries take ~8 minutes
PROGRESS_EVERY = 5000
RUN_ID = re.compile(r"[0-9a-f]{16}\Z")
ANCHOR = re.compile(r"\s*(\d{1,12})\s*:\s*([0-9a-fA-F]{64})\s*\Z")


class NotStarted(Exception):
    """The queue (Redis) did not answer: the verification could not be started."""


def parse_anchor(text: str) -> tuple[int, str] | None:
    """``SEQ:HASH`` as ``flask audit verify --anchor`` takes it; None if malformed."""
    found = ANCHOR.match(text or "")
    return (int(found.group(1)), found.group(2).lower()) if found else None


def _connection():
    from webapp.queue import runtime

    return runtime().connection


def _key(run_id: str) -> str:
    return _PREFIX + "run:" + run_id


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


FINISHED = ("done", "failed")  # a run's states after which nothing changes


def start(viewer: User, anchor: tuple[int, str] | None = None) -> str:
    """Queue a verification (or find the one under way); its run id."""
    from redis.exceptions import RedisError

    from webapp import jobs
    from webapp.queue import enqueue

    run_id = secrets.token_hex(8)
    total = db.session.scalar(select(func.max(AuditEntry.seq))) or 0
    db.session.rollback()  # nothing was written: end the read before the job runs
    try:
        conn = _connection()
        if not conn.set(RUNNING, run_id, nx=True, ex=ALIVE_FOR):
            under_way = conn.get(RUNNING)
            if under_way and conn.exists(_key(under_way.decode())):
                return under_way.decode()
            conn.set(RUNNING, run_id, ex=ALIVE_FOR)  # the one noted there is gone
        conn.set(_key(run_id), json.dumps({
            "id": run_id, "state": "queued", "by": viewer.username, "started_at": _now(),
            "checked": 0, "total": total, "anchor": list(anchor) if anchor else None}),
            ex=ALIVE_FOR)
        enqueue(jobs.verify_audit, run_id, job_timeout=JOB_TIMEOUT, retry=None)
    except RedisError as error:
        current_app.logger.exception("audit verification could not be queued")
        raise NotStarted() from error
    current_app.logger.info("audit chain verification %s started by %s%s", run_id,
                            viewer.username, f" (anchor {anchor[0]})" if anchor else "")
    return run_id


def load(run_id: str) -> dict | None:
    """A run's state: queued / running (``checked`` of ``total``) / done (the result)."""
    if not RUN_ID.match(run_id or ""):
        return None
    raw = _connection().get(_key(run_id))
    return json.loads(raw) if raw else None


def latest() -> dict | None:
    """The run under way, else the last one finished, for the log's page."""
    conn = _connection()
    for name in (RUNNING, LATEST):
        run_id = conn.get(name)
        if run_id and (state := load(run_id.decode())) is not None:
            return state
    return None


def run(run_id: str) -> dict | None:
    """The job: verify the chain, writing progress as it goes and the result at the end."""
    from webapp.services.audit import verify

    conn = _connection()
    state = load(run_id)
    if state is None:
        return None  # expired before a worker took it: nobody is waiting for it

    def save(ttl: int) -> None:
        conn.set(_key(run_id), json.dumps(state), ex=ttl)
        if state["state"] not in FINISHED:
            conn.set(RUNNING, run_id, ex=ttl)

    def progress(checked: int) -> None:
        state.update(checked=checked, updated_at=_now())
        save(ALIVE_FOR)

    state.update(state="running", updated_at=_now())
    save(ALIVE_FOR)
    anchor = tuple(state["anchor"]) if state.get("anchor") else None
    try:
        result = verify(anchor, progress=progress, every=PROGRESS_EVERY)
    except Exception as error:
        # Said as such (not "running" until the key expires), and the next press starts
        # a new run rather than being led back to this one.
        state.update(state="failed", finished_at=_now(), error=type(error).__name__)
        save(KEPT_FOR)
        conn.set(LATEST, run_id, ex=KEPT_FOR)
        if (conn.get(RUNNING) or b"").decode() == run_id:
            conn.delete(RUNNING)
        raise
    finally:
        db.session.rollback()
    state.update(state="done", finished_at=_now(), checked=result.count, ok=result.ok,
                 count=result.count, head_seq=result.head_seq, head_hash=result.head_hash,
                 broken_seq=result.broken_seq, problem=result.problem,
                 reason=result.reason, detail=result.detail)
    save(KEPT_FOR)
    conn.set(LATEST, run_id, ex=KEPT_FOR)
    if (conn.get(RUNNING) or b"").decode() == run_id:
        conn.delete(RUNNING)
    log = current_app.logger.info if result.ok else current_app.logger.warning
    log("audit chain verification %s: %s; %s entries intact, head %s:%s", run_id,
        "OK" if result.ok else f"BROKEN at {result.broken_seq}: {result.problem}",
        result.count, result.head_seq, result.head_hash)
    return state


def latest_or_none() -> dict | None:
    """``latest()``, or None when Redis does not answer: the log's page still shows."""
    from redis.exceptions import RedisError

    try:
        return latest()
    except RedisError:
        current_app.logger.warning("the last audit verification could not be read",
                                   exc_info=True)
        return None


def describe(run: dict | None) -> dict | None:
    """A run as its page reads it: times as moments, the share done, why it broke."""
    from flask_babel import gettext as _

    from webapp.i18n import local_time

    if run is None:
        return None
    shown = dict(run)
    for name in ("started_at", "finished_at", "updated_at"):
        if shown.get(name):
            shown[name] = local_time(datetime.fromisoformat(shown[name]))
    total = run.get("total") or 0
    shown["percent"] = min(100, run.get("checked", 0) * 100 // total) if total else 0
    seq, detail = run.get("broken_seq"), run.get("detail")
    shown["problem_text"] = {
        "missing": lambda: _("第 %(seq)s 条不见了（其后是第 %(next)s 条）", seq=seq, next=detail),
        "unlinked": lambda: _("第 %(seq)s 条没有接上第 %(prev)s 条：它记下的上一条哈希值不是那一条的哈希值",
                              seq=seq, prev=(seq or 1) - 1),
        "changed": lambda: _("第 %(seq)s 条在写入后被改动过：内容与它的哈希值不符", seq=seq),
        "not_anchored": lambda: _("第 %(seq)s 条已不是记下的那一条：链从这里或更早被重写过", seq=seq),
        "anchor_missing": lambda: _("记下的第 %(seq)s 条不在链中：链只到第 %(count)s 条", seq=seq,
                                    count=run.get("count")),
        "unsealed": lambda: _("有一条记录（id %(id)s）不在链中：它从未封存", id=detail),
    }.get(run.get("reason") or "", lambda: run.get("problem") or "")()
    return shown
