"""Copies of a few values of an instance's form data in real, indexed columns.

Reports and lists group and filter requests by the station they name and by their
category.  Reading those from the JSON state of every row costs a parse (and, on
PostgreSQL, a de-TOAST of a state of a few KB) per request, so such a report grows with
the history; a column costs nothing.  The engine's state stays the truth: ``fill`` is
called each time an instance is saved (``workflow._save``), and the migration that added
the columns filled them the same way (``station`` an integer id, ``category`` a string).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CATEGORY_LENGTH = 200
MAX_ID = 2**31 - 1


def station_of(data: Mapping[str, Any]) -> int | None:
    """The unit id the form's ``station`` field names, if it is an id."""
    value = data.get("station")
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    return None


def category_of(data: Mapping[str, Any]) -> str | None:
    """The form's ``category`` choice, if it is a string that fits the column."""
    value = data.get("category")
    if isinstance(value, str) and len(value) <= CATEGORY_LENGTH:
        return value
    return None


def fill(instance, data: Mapping[str, Any] | None, directory=None) -> None:
    """Set ``instance.station_id`` and ``instance.category`` from its form data, and the
    station's unit path (read from ``directory`` only when the station changed)."""
    data = data if isinstance(data, Mapping) else {}
    station = station_of(data)
    if station != instance.station_id or (station is not None and instance.station_path is None):
        row = directory.unit_row(station) if station is not None and directory is not None \
            else None
        instance.station_path = row.path if row is not None else None
    instance.station_id = station
    instance.category = category_of(data)


__all__ = ["fill", "station_of", "category_of", "CATEGORY_LENGTH"]
