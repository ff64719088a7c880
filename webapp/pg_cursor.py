"""A psycopg cursor whose ``description`` costs nothing until something reads it.

psycopg builds a ``Column`` (name decoded, type looked up) for every column of every
result each time ``cursor.description`` is read.  SQLAlchemy reads it after every
statement but, for a statement it has run before, only asks whether it is ``None``: the
result's columns are already known from the compiled statement.  An API approval read 95
columns that way, about 5 % of its CPU, to throw them away.  Here the description is a
sequence that makes those columns the first time one of them is asked for.
"""
from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import psycopg
from psycopg import pq
from psycopg._column import Column

_ROWS = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK)


class Description(Sequence):
    """``cursor.description`` of one result, its ``Column`` objects made when first read.

    It keeps the result it describes (not the cursor), so reading it after the cursor
    moved on still describes the result it was taken from, as psycopg's list does."""

    __slots__ = ("_source", "_count", "_columns")

    def __init__(self, result, encoding: str, adapters):
        self._source = SimpleNamespace(pgresult=result, _encoding=encoding, adapters=adapters)
        self._count = result.nfields
        self._columns: list[Column] | None = None

    def _made(self) -> list[Column]:
        if self._columns is None:
            self._columns = [Column(self._source, i) for i in range(self._count)]
            self._source = None
        return self._columns

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):
        return self._made()[index]

    def __iter__(self):
        return iter(self._made())

    def __repr__(self) -> str:
        return repr(self._made())


class LazyDescriptionCursor(psycopg.Cursor):
    @property
    def description(self):
        result = self.pgresult
        if result and (result.nfields or result.status in _ROWS):
            return Description(result, self._encoding, self.adapters)
        return None
