"""Finding stations: the one query behind the directory page and the API."""
from __future__ import annotations

from sqlalchemy import or_, select

from webapp.models import OrgUnit, Station

# Filter name → the station column that must be true / positive.
SERVICES = {
    "parking": Station.car_parking > 0,
    "motorcycle_parking": Station.motorcycle_parking > 0,
    "charging": Station.charging_piles > 0,
    "toilet": Station.has_toilet.is_(True),
    "microwave": Station.has_microwave.is_(True),
    "water": Station.has_water.is_(True),
}
# The names a station's ``services`` carries in the API (``car_parking`` = 3 places),
# taken as filters too, so a client can filter by what it reads.
SERVICE_ALIASES = {"car_parking": "parking", "charging_piles": "charging"}


def text_match(q: str):
    """WHERE clause: the station's name, address or landmark contains ``q`` (or its
    English name does, in any case: "jiefangbei" finds Jiefangbei…)."""
    return or_(OrgUnit.name.contains(q, autoescape=True),
               OrgUnit.name_en.icontains(q, autoescape=True),
               Station.address.contains(q, autoescape=True),
               Station.landmark.contains(q, autoescape=True))


def search(q: str = "", district: int | None = None, services: list[str] = (),
           open_only: bool = False):
    """SELECT of active stations matching the text (name, address or landmark), the
    district and every named service, by name."""
    stmt = select(Station).join(OrgUnit, OrgUnit.id == Station.unit_id).where(
        OrgUnit.active.is_(True))
    q = q.replace("\x00", "")  # PostgreSQL refuses NUL in text
    if q:
        stmt = stmt.where(text_match(q))
    if district:
        stmt = stmt.where(Station.district_id == district)
    for service in services:
        stmt = stmt.where(SERVICES[SERVICE_ALIASES.get(service, service)])
    if open_only:
        stmt = stmt.where(Station.is_open.is_(True))
    return stmt.order_by(OrgUnit.name)


def districts():
    """SELECT of the active districts (区县), in the tree's order."""
    return select(OrgUnit).where(OrgUnit.kind == "district", OrgUnit.active.is_(True)
                                 ).order_by(OrgUnit.path, OrgUnit.id)
