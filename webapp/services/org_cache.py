"""The organisation as the engine reads it, kept per process and checked per transaction.

Who approves a step is read off the organisation — a unit and its ancestors, who holds a
role there, a person's roles and unit — which changes a few times a day.  This process
keeps what it has read, tagged with ``org_generation.n``: a number the database sets to a
new random value with every write to units, roles, or a person's unit or active flag
(triggers, migration f1c8a2b4d6e0 — whoever writes, the app, an import or SQL by hand).

A transaction reads the number once — in the same statement as the instance's lock
where a step has one (``generation_column``), else with the first thing it looks up —
and uses this process's copy only if it was made under that same number; otherwise the
copy is dropped and refilled from the database.  What a transaction sees is therefore
the organisation as of the statement that read the number (on PostgreSQL, as of the
start of that statement: a step that waited for an instance's lock uses the
organisation from before the wait — a change committed meanwhile is seen by the next
transaction, as one committed just after the step's own reads always was).

Not used (everything read from the database, as before) when:
- the transaction has itself written units, roles or people through the session (its
  own changes, not yet committed, are not in the copy);
- the row is missing (a database emptied by hand: the next write makes it again).

A transaction that writes units or roles with plain SQL statements (not through the
session) and then, before committing, asks the directory about them may be answered
from the copy: no code does that today (imports commit before anything runs a step).
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.models import Membership, OrgGeneration, OrgUnit, User

_KEY = "unionflow_org_cache"
_GENERATION = "org_generation"  # session.info: the number this transaction read
_WROTE = "org_written"  # session.info: it wrote units, roles or people itself
_UNREAD = object()
# Entries kept per process before the copy is started again (units of a city: ~8,400;
# role holders and people's roles: one each per unit / person asked about).
LIMIT = 50_000

_READ = select(OrgGeneration.n).where(OrgGeneration.id == 1)
# Built once: a construct built per call costs more Python than the column costs to read.
_COLUMN = _READ.scalar_subquery().label("org_generation")


def generation_column():
    """The current number as a column, to read in a query the step makes anyway."""
    return _COLUMN


def note_generation(value: int | None) -> None:
    """The number read by ``generation_column`` in this transaction."""
    db.session.info[_GENERATION] = value


def _generation() -> int | None:
    info = db.session.info
    value = info.get(_GENERATION, _UNREAD)
    if value is _UNREAD:
        value = info[_GENERATION] = db.session.scalar(_READ)
    return value


def wrote_organisation() -> bool:
    """Whether this transaction has written units, roles or people through the session
    (flushed or not): then nothing may come from the copy."""
    session = db.session()
    return bool(session.info.get(_WROTE)) or pending_writes(session)


def store() -> dict[Any, Any] | None:
    """This process's copy for the organisation as this transaction sees it (a dict to
    read and fill), or None when it must not be used."""
    if wrote_organisation():
        return None
    generation = _generation()
    if generation is None:
        return None
    extensions = current_app.extensions
    copy = extensions.get(_KEY)
    if copy is None or copy[0] != generation or len(copy[1]) > LIMIT:
        copy = extensions[_KEY] = (generation, {})
    return copy[1]


_WATCHED = (OrgUnit, Membership, User)


def pending_writes(session: Session, types: tuple[type, ...] = _WATCHED) -> bool:
    """Whether the session holds new, changed or deleted rows of ``types``, not yet
    flushed."""
    return any(isinstance(obj, types) for obj in (*session.new, *session.deleted, *session.dirty))


@event.listens_for(Session, "before_flush")
def _note_writes(session: Session, flush_context, instances) -> None:
    if not session.info.get(_WROTE) and pending_writes(session):
        session.info[_WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_GENERATION, None)
        session.info.pop(_WROTE, None)
