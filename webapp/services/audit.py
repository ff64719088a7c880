"""The audit log: who changed what, when, from what to what — append-only, hash-chained.

``record()`` adds an entry to the caller's transaction, so it is saved exactly when the
change it describes is, and vanishes with it on a rollback (savepoints included).  The
entries wait in the session until the transaction commits; then they are written
*sealed*, in one INSERT: under a lock that serialises every writer of the log (an
advisory lock on PostgreSQL; SQLite's write lock) each gets the next ``seq``, the hash of
the entry before it, and its own hash over both.  The lock is taken last, just before
the commit, so it never waits inside a transaction that still has rows to lock (no
deadlocks with the instance row locks of the workflow), and is held only for the commit.

Passwords, password hashes, session and API tokens are never written to the log.
Personal data (a phone number, a private form field) is stored as it was saved and
masked on the way out, for viewers who may not see it (``webapp.admin.audit``).
"""
from __future__ import annotations

import hashlib
import json
from contextlib import closing
from dataclasses import dataclass, fields
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Mapping

from sqlalchemy import event, func, insert, select, text
from sqlalchemy.orm import Session

from webapp.database import rows_document
from webapp.extensions import db
from webapp.models import (ApiToken, AuditEntry, DefinitionVersion, Instance, Membership, OrgUnit,
                           Pairing, ProcessDefinition, RetreatQuota, User)
from webapp.models.types import utcnow

GENESIS = "0" * 64  # the "previous hash" of the first entry
# Any key of before/after with one of these names is dropped, at any depth.
SECRET_KEYS = frozenset({"password", "password_hash", "session_token", "token", "raw_token",
                         "digest", "secret", "api_token"})
# One number for "the audit chain" among PostgreSQL's advisory locks ("audit" in ASCII).
CHAIN_LOCK = 0x6175646974
_UNSEALED = "audit_unsealed"

_OBJECT_TYPES: tuple[tuple[type, str], ...] = (
    (Instance, "instance"), (User, "user"), (Membership, "membership"),
    (RetreatQuota, "retreat_quota"), (DefinitionVersion, "definition_version"),
    (ProcessDefinition, "process_definition"), (ApiToken, "api_token"), (Pairing, "pairing"),
)


# ------------------------------------------------------------------------------ recording

@dataclass
class PendingEntry:
    """An entry recorded in this transaction, written (sealed) when it commits."""

    at: datetime
    actor_id: int | None
    action: str
    object_type: str
    object_id: str
    unit_path: str
    before: dict
    after: dict
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None


def record(actor: User | int | None, action: str, obj: Any, before: Mapping | None = None,
           after: Mapping | None = None, unit: OrgUnit | str | None = None,
           *, at: datetime | None = None) -> PendingEntry:
    """Add an audit entry for ``action`` on ``obj`` to the current transaction.

    ``actor`` is a user, a user id, or None for the system (timers, the demo seed, the
    command line).  ``obj`` is a model row or a ``(type, id)`` pair.  ``before`` and
    ``after`` hold the fields that changed; keys whose values are equal in both are
    dropped, and secrets never get in.  ``unit`` (a unit or a path) places the entry in
    the tree for scoped viewers; by default it is read off ``obj``.
    """
    before, after = _changed(_clean(before or {}), _clean(after or {}))
    object_type, object_id = identify(obj)
    entry = PendingEntry(at=at or utcnow(), actor_id=_actor_id(actor), action=action[:64],
                         object_type=object_type, object_id=object_id,
                         unit_path=_unit_path(unit, obj), before=before, after=after)
    session = db.session()
    # The (innermost) transaction it belongs to: a savepoint rolled back takes it along.
    owner = session.get_nested_transaction() or session.get_transaction()
    if owner is None:  # nothing begun yet: begin, so a rollback before any write sees it
        session.connection()
        owner = session.get_transaction()
    session.info.setdefault(_UNSEALED, []).append((owner, entry))
    return entry


def record_instance(instance: Instance, old, new) -> None:
    """One entry per line the engine added to an instance's history in this step.

    The last of them also carries the change of status and current steps.
    """
    first = len(old.history) if old is not None else 0
    added = new.history[first:]
    for index, line in enumerate(added, start=1):
        before = {name: pair[0] for name, pair in line.changes.items()}
        after = {name: pair[1] for name, pair in line.changes.items()}
        if line.step:
            after["step"] = line.step
        if line.comment:
            after["comment"] = line.comment
        if line.details:
            after["details"] = dict(line.details)
        if index == len(added):
            before["status"], after["status"] = old.status if old else None, new.status
            before["steps"] = list(old.current) if old else []
            after["steps"] = list(new.current)
        record(line.actor if isinstance(line.actor, int) else None,
               f"instance.{line.action}", instance, before, after, at=line.at)


def identify(obj: Any) -> tuple[str, str]:
    if isinstance(obj, tuple):
        kind, ident = obj
        return str(kind)[:32], str(ident)[:64]
    if isinstance(obj, OrgUnit):
        return ("station" if obj.kind == "station" else "unit"), str(obj.id)
    for cls, name in _OBJECT_TYPES:
        if isinstance(obj, cls):
            return name, str(obj.id)
    return obj.__tablename__[:32], str(obj.id)


def _actor_id(actor) -> int | None:
    if actor is None:
        return None
    if isinstance(actor, int):
        return actor
    return getattr(actor, "id", None)


def _unit_path(unit, obj) -> str:
    if isinstance(unit, str):
        return unit
    if isinstance(unit, OrgUnit):
        return unit.path
    if isinstance(obj, Instance):
        return obj.unit_path or ""
    if isinstance(obj, OrgUnit):
        return obj.path
    if isinstance(obj, (Membership, RetreatQuota)):
        return obj.unit.path
    if isinstance(obj, Pairing):
        return obj.branch.path
    if isinstance(obj, User):
        return obj.unit.path if obj.unit is not None else ""
    if isinstance(obj, ApiToken):
        owner = obj.user or db.session.get(User, obj.user_id)
        return owner.unit.path if owner is not None and owner.unit is not None else ""
    return ""  # platform-wide (definitions): platform administrators see it


def _clean(value):
    """JSON-plain values (dates as ISO text) without secrets, exactly as they will read
    back from the database, so the hash computed now is the hash recomputed later."""
    def strip(v):
        if isinstance(v, Mapping):
            return {str(k): strip(x) for k, x in v.items() if str(k).lower() not in SECRET_KEYS}
        if isinstance(v, (list, tuple)):
            return [strip(x) for x in v]
        return v

    return json.loads(json.dumps(strip(value), default=_jsonable, ensure_ascii=False))


def _jsonable(value):
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (Decimal, set, frozenset)):
        return str(value) if isinstance(value, Decimal) else sorted(value)
    return str(value)


def _changed(before: dict, after: dict) -> tuple[dict, dict]:
    # A field missing on one side was empty there: "None → None" is no change either.
    same = {k for k in before.keys() | after.keys() if before.get(k) == after.get(k)}
    return ({k: v for k, v in before.items() if k not in same},
            {k: v for k, v in after.items() if k not in same})


# ------------------------------------------------------------------------------ the chain

def entry_hash(entry: Mapping[str, Any] | AuditEntry, prev_hash: str) -> str:
    """SHA-256 over the canonical JSON of the entry's content and the previous hash."""
    get = entry.get if isinstance(entry, Mapping) else (lambda k: getattr(entry, k))
    canonical = _canonical(entry, get("seq"), prev_hash)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _canonical(entry, seq, prev_hash) -> str:
    get = entry.get if isinstance(entry, Mapping) else (lambda k: getattr(entry, k))
    body = {"seq": seq, "at": _instant(get("at")), "actor_id": get("actor_id"),
            "action": get("action"), "object_type": get("object_type"),
            "object_id": get("object_id"), "unit_path": get("unit_path"),
            "before": get("before"), "after": get("after"), "prev_hash": prev_hash}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def exact_instant(at: datetime) -> datetime:
    """An entry's time with its offset (SQLite gives the stored UTC time back without)."""
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at


def _instant(at: datetime) -> str:
    return exact_instant(at).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _chain_head(session: Session):
    """The last sealed entry (seq, hash) or None, read holding the chain's lock."""
    if session.get_bind().dialect.name == "postgresql":
        # One round trip (migration b8e4f0a2c6d1): the advisory lock, held to the end of
        # the transaction, then the head — read after the lock was granted (a VOLATILE
        # function takes a new snapshot per query), so the writer we waited for is seen.
        return session.execute(text("SELECT seq, hash FROM audit_chain_head(:key)"),
                               {"key": CHAIN_LOCK}).first()
    # SQLite: the head must be read holding the database's write lock, or two writers
    # could read the same head.  A transaction that began with BEGIN IMMEDIATE or has
    # written rows holds it; any other takes it with a write that changes nothing.
    if not (session.info.get("wrote") or session.connection().info.get("sqlite_immediate")):
        session.execute(text("UPDATE audit_entries SET seq = seq WHERE 0"))
    return session.execute(select(AuditEntry.seq, AuditEntry.hash).where(
        AuditEntry.seq.is_not(None)).order_by(AuditEntry.seq.desc()).limit(1)).first()


_ENTRY_COLUMNS = tuple(f.name for f in fields(PendingEntry))
_CONTENT = ("at", "actor_id", "action", "object_type", "object_id", "unit_path", "before",
            "after")

# PostgreSQL: the chain's lock and head (``audit_chain_head``), then each entry's
# ``seq``, previous hash and SHA-256 — of the same canonical JSON ``entry_hash`` makes,
# the entry's content rendered here around its two links (the previous hash and
# ``seq``), which the database fills in, one entry after the other — in one INSERT.
# ``tests/webapp/test_audit.py`` recomputes every hash with ``entry_hash``.  (The same
# bytes as Python's ``.encode("utf-8")``: the database's encoding is UTF-8, as
# ``flask db upgrade`` and ``.ci/run`` create it.)
_SEAL = text("""
WITH RECURSIVE
head AS (SELECT coalesce(max(h.seq), 0) AS seq, coalesce(max(h.hash), :genesis) AS hash
         FROM audit_chain_head(:key) AS h),
entry AS (SELECT * FROM jsonb_to_recordset(CAST(:entries AS jsonb))
          AS e ("at" timestamptz, actor_id integer, action varchar, object_type varchar,
                object_id varchar, unit_path varchar, "before" text, "after" text,
                before_link text, between_links text, after_seq text, n bigint)),
chain (n, seq, prev_hash, hash) AS (
    SELECT -1::bigint, head.seq, NULL::varchar, head.hash::varchar FROM head
    UNION ALL
    SELECT chain.n + 1, chain.seq + 1, chain.hash,
           encode(sha256(convert_to(entry.before_link || chain.hash || entry.between_links
                                    || CAST(chain.seq + 1 AS text) || entry.after_seq,
                                    'UTF8')), 'hex')::varchar
    FROM chain JOIN entry ON entry.n = chain.n + 1)
INSERT INTO audit_entries (seq, "at", actor_id, action, object_type, object_id, unit_path,
                           "before", "after", prev_hash, hash)
SELECT chain.seq, entry."at", entry.actor_id, entry.action, entry.object_type,
       entry.object_id, entry.unit_path, CAST(entry."before" AS json),
       CAST(entry."after" AS json), chain.prev_hash, chain.hash
FROM chain JOIN entry ON entry.n = chain.n
ORDER BY chain.n
RETURNING seq, prev_hash, hash""")
# Entries sealed by that statement at most (a step records two): its recursive part
# joins every entry at each link, so a bulk import's thousands are chained here in
# Python instead, as before — the chain's lock is held no longer than they need.
SEAL_IN_SQL = 32
_LINK, _SEQ = "\x00prev_hash\x00", "\x00seq\x00"  # stand-ins no content can hold


def _canonical_around_link(entry: PendingEntry) -> tuple[str, str, str] | None:
    """``entry_hash``'s canonical JSON of ``entry`` cut where the previous hash and the
    ``seq`` go: (up to the hash, between the hash and ``seq``, after ``seq``); None if
    the stand-ins cannot be found exactly once each."""
    canonical = _canonical(entry, _SEQ, _LINK)
    link, seq = json.dumps(_LINK), json.dumps(_SEQ)
    if canonical.count(link) != 1 or canonical.count(seq) != 1:
        return None
    before_link, rest = canonical.split(link)
    between, after_seq = rest.split(seq)
    if seq in before_link:
        return None
    return before_link + '"', '"' + between, after_seq


@event.listens_for(Session, "before_commit")
def _seal(session: Session) -> None:
    """Write this transaction's entries, already sealed: each gets the next ``seq``, the
    previous entry's hash and its own — one INSERT for all of them, as the last writes
    before the commit, so the chain's lock is held only for the commit itself."""
    if not session.info.get(_UNSEALED) or session.in_nested_transaction():
        return  # a savepoint's entries are sealed with the transaction around it
    pending = [entry for _, entry in session.info.pop(_UNSEALED)]
    session.flush()  # the changes they describe go first (and take SQLite's lock)
    if len(pending) <= SEAL_IN_SQL and session.get_bind().dialect.name == "postgresql":
        parts = [_canonical_around_link(entry) for entry in pending]
        if None not in parts:  # sealed by the database: one statement
            # The entries as one JSON document, in the order recorded: one parameter,
            # escaped by the JSON encoder, not eleven text arrays whose every quote
            # psycopg escapes one by one.
            rows = []
            for entry, (before_link, between, after_seq) in zip(pending, parts):
                row = {name: getattr(entry, name) for name in _CONTENT}
                # As the JSON columns' own serialiser writes them.
                row["before"], row["after"] = json.dumps(row["before"]), json.dumps(row["after"])
                row.update(before_link=before_link, between_links=between, after_seq=after_seq)
                rows.append(row)
            params = {"key": CHAIN_LOCK, "genesis": GENESIS, "entries": rows_document(rows)}
            rows = session.execute(_SEAL, params).all()
            for entry, (seq, prev_hash, hash_) in zip(pending, sorted(rows)):
                entry.seq, entry.prev_hash, entry.hash = seq, prev_hash, hash_
            return
    head = _chain_head(session)
    seq, prev = (head.seq, head.hash) if head is not None else (0, GENESIS)
    rows = []
    for entry in pending:  # in the order they were recorded
        seq += 1
        entry.seq, entry.prev_hash = seq, prev
        entry.hash = prev = entry_hash(entry, prev)
        # Shallow: ``asdict`` would deep-copy every before/after state, only to insert it.
        rows.append({name: getattr(entry, name) for name in _ENTRY_COLUMNS})
    session.execute(insert(AuditEntry.__table__), rows)


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction) -> None:
    """Entries recorded in a transaction (or savepoint) that rolled back go with it."""
    pending = session.info.get(_UNSEALED)
    if not pending:
        return
    if previous_transaction.parent is None:
        session.info.pop(_UNSEALED, None)
        return

    def inside(owner) -> bool:
        while owner is not None:
            if owner is previous_transaction:
                return True
            owner = owner.parent
        return False

    pending[:] = [(owner, entry) for owner, entry in pending if not inside(owner)]


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_UNSEALED, None)


# ------------------------------------------------------------------------------ verifying

@dataclass(frozen=True)
class Verification:
    count: int  # entries checked and found sound
    head_seq: int | None
    head_hash: str | None
    broken_seq: int | None = None
    problem: str | None = None
    # What broke, for a reader in their language: missing (``detail``: the seq that came
    # next), unlinked, changed, not_anchored, anchor_missing, unsealed (``detail``: the id)
    reason: str | None = None
    detail: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(anchor: tuple[int, str] | None = None, batch: int = 1000,
           progress: Callable[[int], None] | None = None, every: int = 5000) -> Verification:
    """Walk the chain in ``seq`` order and recompute every hash; stop at the first
    broken link.  ``anchor`` (seq, hash), written down earlier, must still be there:
    that catches a rewrite of the whole chain after it, which hashes alone cannot.
    ``progress`` is told the number of entries found sound every ``every`` entries."""
    with closing(_rows(batch)) as rows:  # a server-side cursor: closed however we leave
        return _walk(rows, anchor, progress, every)


def _walk(rows, anchor: tuple[int, str] | None, progress=None, every: int = 5000
          ) -> Verification:
    count, prev, head_hash = 0, GENESIS, None
    for row in rows:
        expected = count + 1
        if row.seq != expected:
            return Verification(count, count or None, head_hash, expected,
                                f"entry {expected} is missing (the next one is {row.seq})",
                                "missing", row.seq)
        if row.prev_hash != prev:
            return Verification(count, count or None, head_hash, row.seq,
                                f"entry {row.seq} does not link to entry {row.seq - 1}: "
                                "its prev_hash is not that entry's hash", "unlinked")
        if entry_hash(row._mapping, prev) != row.hash:
            return Verification(count, count or None, head_hash, row.seq,
                                f"entry {row.seq} was changed after it was written: "
                                "its content does not match its hash", "changed")
        if anchor is not None and row.seq == anchor[0] and row.hash != anchor[1]:
            return Verification(count, count or None, head_hash, row.seq,
                                f"entry {row.seq} is not the one anchored: the chain was "
                                "rewritten from there or before", "not_anchored")
        count, prev, head_hash = row.seq, row.hash, row.hash
        if progress is not None and count % every == 0:
            progress(count)
    if anchor is not None and anchor[0] > count:
        return Verification(count, count or None, head_hash, anchor[0],
                            f"entry {anchor[0]} (anchored) is missing: the chain ends at "
                            f"{count}", "anchor_missing")
    unsealed = db.session.scalar(select(func.min(AuditEntry.id)).where(
        AuditEntry.hash.is_(None)))
    if unsealed is not None:
        return Verification(count, count or None, head_hash, None,
                            f"entry id {unsealed} has no place in the chain (never sealed)",
                            "unsealed", unsealed)
    return Verification(count, count or None, head_hash)


def _rows(batch: int):
    table = AuditEntry.__table__
    stmt = select(table).where(table.c.seq.is_not(None)).order_by(table.c.seq)
    # Streamed: a log of millions of entries is checked in constant memory.
    return db.session.execute(stmt.execution_options(yield_per=batch))
