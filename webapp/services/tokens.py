"""Issuing, resolving and revoking the JSON API's bearer tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.models import ApiToken, User
from webapp.models.types import utcnow
from webapp.services import audit, org_cache

PREFIX = "uf_"  # recognisable in logs and secret scanners


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def issue(user: User, now: datetime | None = None, *, actor: User | None = None
          ) -> tuple[str, ApiToken]:
    """A new token for ``user``: the raw token (shown once) and its stored row.

    ``actor`` (for the audit log) is ``user`` unless someone else issues it."""
    now = now or utcnow()
    raw = PREFIX + secrets.token_urlsafe(32)
    ttl = current_app.config["API_TOKEN_TTL"]
    if not isinstance(ttl, timedelta):  # seconds, as the environment gives it
        ttl = timedelta(seconds=int(ttl))
    row = ApiToken(user_id=user.id, digest=_digest(raw), created_at=now, expires_at=now + ttl)
    db.session.add(row)
    db.session.flush()
    audit.record(actor or user, "token.issue", row, {}, {"user": user.username,
                                                          "expires_at": row.expires_at})
    return raw, row


# Built once (every API request runs it); the digest comes as a parameter.  The owner's
# roles come joined in (a row each): every check and step asks for them.
_BY_DIGEST = (select(ApiToken, org_cache.generation_column())
              .where(ApiToken.digest == bindparam("digest"))
              .options(joinedload(ApiToken.user).joinedload(User.memberships)))


def resolve(raw: str, now: datetime | None = None) -> ApiToken | None:
    """The live token row for ``raw`` (its user active), or None."""
    if not raw or len(raw) > 200:
        return None
    now = now or utcnow()
    # The owner in the same query: every API request needs both; and the organisation's
    # generation, so a step or a check asks no more to use this process's copy of it.
    # ``unique().all()``: the rows of one token, its owner's roles gathered from them.
    rows = db.session.execute(_BY_DIGEST, {"digest": _digest(raw)}).unique().all()
    found = rows[0] if rows else None
    row = found[0] if found is not None else None
    if found is not None:
        org_cache.note_generation(found[1])
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if not row.user.active:
        return None
    return row


def revoke(row: ApiToken, now: datetime | None = None, *, actor: User | None = None) -> None:
    """End one token; ``actor`` (for the audit log) is its owner signing out unless given."""
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        audit.record(actor or row.user, "token.revoke", row, {"revoked_at": None},
                     {"revoked_at": row.revoked_at})


def revoke_all(user: User, now: datetime | None = None, *, actor: User | None = None) -> int:
    """End every token of ``user`` (a password reset or a lost phone)."""
    rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                     ApiToken.revoked_at.is_(None))).all()
    for row in rows:
        revoke(row, now, actor=actor)
    return len(rows)
