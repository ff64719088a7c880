"""Column types and helpers shared by the models."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import String
from sqlalchemy.types import TypeDecorator, DateTime


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """An aware datetime in UTC, as a UTC column stores it; a naive one is refused."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite forgets the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return as_utc(value) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def binary_string(length: int) -> String:
    """A string compared byte by byte, so prefix ranges on materialised paths use the index.

    PostgreSQL's default collations ignore punctuation at the first level, which breaks
    ``path >= '/1/5/' AND path < '/1/50'``; "C" compares bytes.  SQLite's default BINARY
    collation already does.
    """
    return String(length).with_variant(String(length, collation="C"), "postgresql")
