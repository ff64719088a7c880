"""Finding stations: the one query behind the directory page and the API."""
from __future__ import annotations

import re

from sqlalchemy import and_, or_, select

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


# Words that name every station: typed with a place ("解放碑驿站", "Jiefangbei station")
# they would find nothing, since no station's name reads that way.  Longest first.
GENERIC_SUFFIXES = ("户外劳动者驿站", "工会驿站", "爱心驿站", "驿站")
GENERIC_WORDS = {"驿站", "工会驿站", "工会", "站", "station", "stations", "rest", "union",
                 "the", "of"}
_SPLIT = re.compile(r"[\s,，、;；/]+")


def search_words(q: str) -> list[str]:
    """The words of a search, each of which a station must match: split at spaces and
    commas, with the words every station's name has left out ("驿站", "station") unless
    nothing else was typed."""
    words = [w for w in _SPLIT.split(q.strip()) if w]
    kept = []
    for word in words:
        if word.lower() in GENERIC_WORDS:
            continue
        for suffix in GENERIC_SUFFIXES:
            if word.endswith(suffix) and len(word) > len(suffix):
                word = word[:-len(suffix)]
                break
        kept.append(word)
    return kept or words


def text_match(q: str):
    """WHERE clause: every word of ``q`` is in the station's name, English name (in any
    case: "jiefangbei" finds Jiefangbei…), address or landmark — "解放碑驿站" and
    "Jiefangbei station" find the stations of 解放碑."""
    return and_(*(or_(OrgUnit.name.contains(word, autoescape=True),
                      OrgUnit.name_en.icontains(word, autoescape=True),
                      Station.address.contains(word, autoescape=True),
                      Station.landmark.contains(word, autoescape=True))
                  for word in search_words(q)[:8]))


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
