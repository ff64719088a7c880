"""Options for the fields whose choices live in the database: stations, units, records.

Passed to ``forms`` as the ``choices`` provider, so a select lists exactly what the
server then accepts.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field as dc_field
from functools import lru_cache
from typing import Any, Callable, Mapping

from flask import current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import bindparam, false, select
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.pagination import as_id
from webapp.services import stations
from webapp.models import Instance, Membership, OrgUnit, Station, User
from workflows.fields import FieldSpec
from workflows.rules import PersonRule, RuleContext
from workflows.unit_fields import acting_rules, area_of

# Record sources ("course", "retreat_batch") and slot lists register here:
# name → function(field_spec, locale, hints) → [(value, label)]; ``hints`` maps field names
# to the ids sent (a chosen station, a sent slot), which a long list may use to narrow.
RECORD_CHOICES: dict[str, Callable[..., list[tuple[str, str]]]] = {}
# The hint naming the district a page's station filter shows (not a field name: those
# are identifiers).
DISTRICT_HINT = "@district"


def _ids(values) -> list[int]:
    """The database ids among submitted values (anything else matches no option)."""
    values = values if isinstance(values, (list, tuple)) else [values]
    ids = (as_id(str(v)) for v in values if isinstance(v, (str, int)) and not isinstance(v, bool))
    return [i for i in ids if i is not None]


def station_choices(locale: str, ids: list[int] | None = None,
                    scope: "StationFilter | None" = None) -> list[tuple[str, str]]:
    """Open stations as (id, "name · district"): all of them, those with ``ids``, or —
    for a form drawn on a page (``scope``) — those the person's filter finds (at most
    STATION_CHOICES_LIMIT) and the ones already chosen."""
    stmt = _open_stations()
    english = locale.startswith("en")

    def labels(rows) -> list[tuple[str, str]]:
        # Two stations of one name (a city has many "XX工会驿站") are told apart by
        # their address, or a rider cannot know which of two same lines to pick.
        rows = list(rows)
        names = Counter((row[1], row[3]) for row in rows)
        out = []
        for uid, name, name_en, d_name, d_en, address in rows:
            shown = name_en if english and name_en else name
            if names[(name, d_name)] > 1 and address:
                shown = f"{shown}（{address}）"
            out.append((str(uid), f"{shown} · {(d_en if english and d_en else d_name) or ''}"
                                  .rstrip(" ·")))
        return out

    if scope is None:
        rows = db.session.execute(stmt) if ids is None else _open_stations_among(ids)
        return labels(rows)
    found = stmt
    if scope.district is not None:
        found = found.where(Station.district_id == scope.district)
    if scope.q:
        found = found.where(stations.text_match(scope.q))
    rows = db.session.execute(found.limit(scope.limit + 1)).all()
    scope.more = len(rows) > scope.limit
    rows = rows[:scope.limit]
    listed = {row[0] for row in rows}
    chosen = [i for i in scope.chosen if i not in listed]
    if chosen:  # what was chosen stays an option (and is still checked: open, active)
        rows = _open_stations_among(chosen).all() + rows
    scope.shown = len(rows)
    return labels(rows)


@lru_cache(maxsize=2)
def _open_stations(by_id: bool = False):
    """Open stations with their district's name, in the district's order — built once
    (its alias alone makes a few dozen objects; every form post that names a station
    checks it here); ``by_id``: those among the ids given as the parameter ``ids``."""
    district = aliased(OrgUnit)
    stmt = (select(OrgUnit.id, OrgUnit.name, OrgUnit.name_en, district.name, district.name_en,
                   Station.address)
            .join(Station, Station.unit_id == OrgUnit.id)
            .outerjoin(district, district.id == Station.district_id)
            .where(OrgUnit.active.is_(True), Station.is_open.is_(True))
            .order_by(district.path, OrgUnit.name))
    if by_id:
        stmt = stmt.where(OrgUnit.id.in_(bindparam("ids", expanding=True)))
    return stmt


def _open_stations_among(ids: list[int]):
    return db.session.execute(_open_stations(by_id=True), {"ids": ids})


@dataclass
class StationFilter:
    """How a station select on a page is narrowed: by district (the person's own, until
    they pick another or "all") and by text — a city has thousands of stations, too many
    for one list on a phone.  Its inputs are ``<field>-district`` and ``<field>-q``
    (names a definition's fields cannot take)."""

    name: str
    district: int | None
    q: str
    chosen: list[int]
    limit: int
    districts: list[tuple[int, str]] = dc_field(default_factory=list)
    more: bool = False
    shown: int = 0

    @property
    def district_input(self) -> str:
        return f"{self.name}-district"

    @property
    def q_input(self) -> str:
        return f"{self.name}-q"

    def keep(self, value) -> None:
        """A station the form is drawn with (a returned request's) stays an option, and
        its district is shown unless the person asked for another."""
        for station_id in _ids(value):
            if station_id not in self.chosen:
                self.chosen.append(station_id)
            if self.district_input not in request.values:
                district = db.session.scalar(select(Station.district_id).where(
                    Station.unit_id == station_id))
                if district in dict(self.districts):
                    self.district = district


def station_filter(name: str, locale: str) -> StationFilter:
    """The filter of the station field ``name`` in this request (made once per request)."""
    filters = g.setdefault("station_filters", {})
    if name in filters:
        return filters[name]
    values = request.values
    key = f"{name}-district"
    if key in values:  # chosen on the form: a district, or "" for all of them
        district = as_id(values.get(key) or "")
    else:
        district = _home_district()
    q = " ".join((values.get(f"{name}-q") or "").replace("\x00", "").split())[:50]
    english = locale.startswith("en")
    districts = [(uid, (name_en if english and name_en else zh)) for uid, zh, name_en in
                 db.session.execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.name_en).where(
                     OrgUnit.kind == "district", OrgUnit.active.is_(True))
                     .order_by(OrgUnit.path))]
    if district is not None and district not in {uid for uid, _ in districts}:
        district = None
    limit = int(current_app.config.get("STATION_CHOICES_LIMIT", 200))
    filters[name] = StationFilter(name, district, q, _ids(values.getlist(name)), limit,
                                  districts)
    return filters[name]


def drawn_filter(name: str) -> StationFilter | None:
    """For the template: the filter of a station field drawn in this request, if any."""
    return g.get("station_filters", {}).get(name) if has_request_context() else None


def _home_district() -> int | None:
    """The district the signed-in person's unit lies in (their stations are nearby)."""
    unit = getattr(current_user, "unit", None) if current_user else None
    if unit is None:
        return None
    return db.session.scalar(select(OrgUnit.id).where(
        OrgUnit.id.in_(unit.ancestor_ids), OrgUnit.kind == "district"))


def unit_choices(field: FieldSpec, locale: str, ids: list[int] | None = None,
                 scope: "UnitScope | None" = None) -> list[tuple[str, str]]:
    """Active units (of the field's kinds) as (id, indented name): all of them, those
    with ``ids``, or — for a form drawn for a request (``scope``) — those in its area
    with someone to act there, and the ones just sent (the engine says what is wrong
    with those, beside the field)."""
    kinds = getattr(field, "unit_kinds", ()) or ()
    active = select(OrgUnit).where(OrgUnit.active.is_(True))
    # Sent values are checked for their kind (and area) by the engine, which says what
    # it asks for beside the field; a list shows only the kinds the field takes.
    stmt = active.where(OrgUnit.kind.in_(kinds)) if kinds and ids is None else active
    if ids is not None:
        stmt = stmt.where(OrgUnit.id.in_(ids))
    units = list(db.session.scalars(stmt.order_by(OrgUnit.path))) if scope is None \
        else scope.units(stmt, active)
    english = locale.startswith("en")
    return [(str(u.id), ("\u3000" * max(u.depth - 1, 0)) + u.label("en" if english else "zh"))
            for u in units]


_PLACES_LISTED = 2000  # units named in one query's IN list, at most


@dataclass
class UnitScope:
    """Which units an org_unit field of one request offers (``workflows.unit_fields``):
    those below ``area`` (when ``limited``), where the ``rules`` of the steps it names
    find someone — plus the ``sent`` ids, kept so a refusal is explained, not dropped."""

    limited: bool
    area: int | None
    rules: tuple[PersonRule, ...]
    sent: list[int]

    def units(self, stmt, active) -> list[OrgUnit]:
        found = stmt
        if self.limited:
            root = db.session.get(OrgUnit, self.area) if self.area is not None else None
            if root is None:
                found = found.where(false())
            else:
                found = found.where(root.subtree_clause())
        units = [u for u in db.session.scalars(found.order_by(OrgUnit.path))]
        units = self._staffed(units)
        listed = {u.id for u in units}
        sent = [i for i in self.sent if i not in listed]
        if sent:
            units += list(db.session.scalars(active.where(OrgUnit.id.in_(sent))))
            units.sort(key=lambda u: u.path)
        return units

    def _staffed(self, units: list[OrgUnit]) -> list[OrgUnit]:
        """The units where each rule finds an active holder of its role — at the unit or
        above it (a role covers the units below), or at it for an ``exact`` rule.  Rules
        that step away from the unit (``form.x.parent``) are left to the engine."""
        for rule in self.rules:
            if rule.of is None or rule.of.path or not units:
                continue
            places = {i for u in units for i in ([u.id] if rule.exact else u.ancestor_ids)}
            holders = (select(Membership.unit_id).join(User, User.id == Membership.user_id)
                       .where(Membership.role == rule.role, User.active.is_(True)))
            if len(places) <= _PLACES_LISTED:
                holders = holders.where(Membership.unit_id.in_(places))
            # else (a field open to a whole city): every holder of the role, rather than
            # thousands of ids as parameters (PostgreSQL takes at most 65,535)
            held = set(db.session.scalars(holders.distinct()))
            units = [u for u in units
                     if held & ({u.id} if rule.exact else set(u.ancestor_ids))]
        return units


def unit_scope(field: FieldSpec, instance: "Instance | None") -> UnitScope | None:
    """The scope of an org_unit field drawn for ``instance`` (None: a start form, whose
    applicant is the signed-in person); None when the field is not limited at all."""
    from webapp.services import workflow as wf
    from webapp.services.directory import DbDirectory

    if instance is not None:
        spec, state = wf.spec_of_instance(instance), wf.state_of(instance)
        fields, rules = spec.fields, acting_rules(spec.steps, field.name)
        ctx = RuleContext(DbDirectory(), state.applicant, state.applicant_unit, state.data,
                          fields)
    else:
        rules = ()
        ctx = RuleContext(DbDirectory(), getattr(current_user, "id", None),
                          getattr(current_user, "unit_id", None), {}, {field.name: field})
    if not field.within and not rules:
        return None
    limited, area = area_of(field, ctx) if field.within else (False, None)
    if limited and area is None and instance is None:
        limited = False  # read from a start-form field not filled in yet: the engine checks
    sent = _ids(request.values.getlist(field.name)) if has_request_context() \
        and request.method == "POST" else []
    return UnitScope(limited, area, rules, sent)


def provider(locale: str, only: Mapping[str, Any] | None = None, *, narrowed: bool = False,
             instance: "Instance | None" = None):
    """A ``forms`` choices provider for this request's language.

    ``only`` (submitted data, for checking it): the station and unit options are just
    those among the values sent for each field — one indexed lookup instead of every
    station of the city.  Never for a form that will be drawn.  ``narrowed``: a form
    drawn on a page with the station filter (``StationFilter``): stations found by it
    and those chosen, duty slots of its district.  Record lookups (duty slots) are told
    the ids sent in the data or in the request, as hints.  A form drawn for a request
    (``instance``, else the signed-in person's start form) lists the units an org_unit
    field may take for it (``UnitScope``)."""
    def choices(field: FieldSpec) -> list[tuple[str, str]]:
        ids = _ids(only.get(field.name, [])) if only is not None else None
        if field.type == "station":
            scope = station_filter(field.name, locale) if narrowed and only is None else None
            return station_choices(locale, ids, scope)
        if field.type == "org_unit":
            scope = unit_scope(field, instance) if only is None else None
            return unit_choices(field, locale, ids, scope)
        source = field.type if field.type == "slot" else getattr(field, "source", None)
        lookup = RECORD_CHOICES.get(source or "")
        hints = _hints(only)
        if narrowed and only is None:
            for scope in g.get("station_filters", {}).values():
                if scope.district is not None:
                    hints.setdefault(DISTRICT_HINT, [scope.district])
        return lookup(field, locale, hints) if lookup else []
    return choices


def _hints(only: Mapping[str, Any] | None) -> dict[str, list[int]]:
    """Ids sent, by field name: from the API's data, else from the form or query string."""
    if only is not None:
        return {name: _ids(value) for name, value in only.items() if isinstance(name, str)}
    if not has_request_context():
        return {}
    return {name: _ids(request.values.getlist(name)) for name in request.values.keys()}
