"""Options for the fields whose choices live in the database: stations, units, records.

Passed to ``forms`` as the ``choices`` provider, so a select lists exactly what the
server then accepts.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from flask import has_request_context, request
from sqlalchemy import select
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.pagination import as_id
from webapp.models import OrgUnit, Station
from workflows.fields import FieldSpec

# Record sources ("course", "retreat_batch") and slot lists register here:
# name → function(field_spec, locale, hints) → [(value, label)]; ``hints`` maps field names
# to the ids sent (a chosen station, a sent slot), which a long list may use to narrow.
RECORD_CHOICES: dict[str, Callable[..., list[tuple[str, str]]]] = {}


def _ids(values) -> list[int]:
    """The database ids among submitted values (anything else matches no option)."""
    values = values if isinstance(values, (list, tuple)) else [values]
    ids = (as_id(str(v)) for v in values if isinstance(v, (str, int)) and not isinstance(v, bool))
    return [i for i in ids if i is not None]


def station_choices(locale: str, ids: list[int] | None = None) -> list[tuple[str, str]]:
    district = aliased(OrgUnit)
    stmt = (select(OrgUnit.id, OrgUnit.name, OrgUnit.name_en, district.name, district.name_en)
            .join(Station, Station.unit_id == OrgUnit.id)
            .outerjoin(district, district.id == Station.district_id)
            .where(OrgUnit.active.is_(True), Station.is_open.is_(True)))
    if ids is not None:
        stmt = stmt.where(OrgUnit.id.in_(ids))
    rows = db.session.execute(stmt.order_by(district.path, OrgUnit.name))
    english = locale.startswith("en")
    return [(str(uid), f"{(name_en if english and name_en else name)} · "
                       f"{(d_en if english and d_en else d_name) or ''}".rstrip(" ·"))
            for uid, name, name_en, d_name, d_en in rows]


def unit_choices(field: FieldSpec, locale: str,
                 ids: list[int] | None = None) -> list[tuple[str, str]]:
    kinds = getattr(field, "unit_kinds", ()) or ()
    stmt = select(OrgUnit).where(OrgUnit.active.is_(True))
    if kinds:
        stmt = stmt.where(OrgUnit.kind.in_(kinds))
    if ids is not None:
        stmt = stmt.where(OrgUnit.id.in_(ids))
    english = locale.startswith("en")
    return [(str(u.id), ("\u3000" * max(u.depth - 1, 0)) + u.label("en" if english else "zh"))
            for u in db.session.scalars(stmt.order_by(OrgUnit.path))]


def provider(locale: str, only: Mapping[str, Any] | None = None):
    """A ``forms`` choices provider for this request's language.

    ``only`` (submitted data, for checking it): the station and unit options are just
    those among the values sent for each field — one indexed lookup instead of every
    station of the city.  Never for a form that will be drawn.  Record lookups (duty
    slots) are told the ids sent in the data or in the request, as hints."""
    def choices(field: FieldSpec) -> list[tuple[str, str]]:
        ids = _ids(only.get(field.name, [])) if only is not None else None
        if field.type == "station":
            return station_choices(locale, ids)
        if field.type == "org_unit":
            return unit_choices(field, locale, ids)
        source = field.type if field.type == "slot" else getattr(field, "source", None)
        lookup = RECORD_CHOICES.get(source or "")
        return lookup(field, locale, _hints(only)) if lookup else []
    return choices


def _hints(only: Mapping[str, Any] | None) -> dict[str, list[int]]:
    """Ids sent, by field name: from the API's data, else from the form or query string."""
    if only is not None:
        return {name: _ids(value) for name, value in only.items() if isinstance(name, str)}
    if not has_request_context():
        return {}
    return {name: _ids(request.values.getlist(name)) for name in request.values.keys()}
