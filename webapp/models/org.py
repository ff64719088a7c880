"""The organisation tree, stations and branch–station pairings.

Each unit stores its materialised path (``/1/5/23/``: the ids from the root down to
itself).  "Everything below this unit" is then a range scan on an index over ``path``,
and "every unit above it" is the path itself, with no recursive query.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer,
                        String, and_, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, binary_string, utcnow
from workflows.org import UNIT_KINDS, term

_KINDS_SQL = ", ".join(f"'{t.key}'" for t in UNIT_KINDS)


class OrgUnit(db.Model):
    __tablename__ = "org_units"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_KINDS_SQL})", name="kind"),
        Index("ix_org_units_kind_path", "kind", "path"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    path: Mapped[str] = mapped_column(binary_string(512), index=True, default="")
    depth: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])
    station: Mapped[Station | None] = relationship(back_populates="unit", uselist=False,
                                                   foreign_keys="Station.unit_id")

    def __repr__(self) -> str:
        return f"<OrgUnit {self.code} {self.kind}>"

    def label(self, locale: str = "zh") -> str:
        if locale.startswith("en") and self.name_en:
            return self.name_en
        return self.name

    def kind_label(self, locale: str = "zh") -> str:
        return term(UNIT_KINDS, self.kind, locale)

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to and including this unit, read off the path."""
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def subtree_clause(self, path_column=None):
        """A WHERE clause for "this unit and everything below it" as an index range scan."""
        column = OrgUnit.path if path_column is None else path_column
        return subtree_range(column, self.path)


def subtree_range(column, path: str):
    # Every path below ``/1/5/`` sorts in [``/1/5/``, ``/1/50``): "/" + 1 is "0".
    upper = path[:-1] + chr(ord(path[-1]) + 1)
    return and_(column >= path, column < upper)


class Station(db.Model):
    """A union rest station (工会驿站): the station-specific data of a ``station`` unit."""

    __tablename__ = "stations"

    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    landmark: Mapped[str] = mapped_column(String(200), default="")
    opening_hours: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    has_water: Mapped[bool] = mapped_column(Boolean, default=True)
    has_toilet: Mapped[bool] = mapped_column(Boolean, default=False)
    has_microwave: Mapped[bool] = mapped_column(Boolean, default=False)
    charging_piles: Mapped[int] = mapped_column(Integer, default=0)
    car_parking: Mapped[int] = mapped_column(Integer, default=0)
    motorcycle_parking: Mapped[int] = mapped_column(Integer, default=0)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)

    unit: Mapped[OrgUnit] = relationship(back_populates="station", foreign_keys=[unit_id])
    district: Mapped[OrgUnit | None] = relationship(foreign_keys=[district_id])


class OrgGeneration(db.Model):
    """One row: a number that changes whenever the organisation the engine reads does
    (units, roles, a person's unit or active flag) — set to a new random number by
    database triggers (migration f1c8a2b4d6e0), so every process can tell whether its
    cached copy of the organisation is still current (``webapp.services.org_cache``)."""

    __tablename__ = "org_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger)


class Pairing(db.Model):
    """One period of a party branch's pairing with a station (结对) for station-master duty.

    Each period is its own row: pairing again with a former station adds a row, so the
    earlier period keeps its dates.  ``ended_on`` is the day the pairing ended, NULL while
    it lasts.  The database holds a branch to one current row, so to one station at a
    time (a partial unique index on ``branch_id``; it implies one current row per branch
    and station as well).
    """

    __tablename__ = "pairings"
    __table_args__ = (
        Index("uq_pairings_branch_current", "branch_id", unique=True,
              postgresql_where=text("ended_on IS NULL"), sqlite_where=text("ended_on IS NULL")),
        CheckConstraint("ended_on >= since", name="ended_after_since"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    since: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)

    branch: Mapped[OrgUnit] = relationship(foreign_keys=[branch_id])
    station: Mapped[OrgUnit] = relationship(foreign_keys=[station_id])

    @property
    def active(self) -> bool:
        """Still current (not ended).  In queries: ``Pairing.ended_on.is_(None)``."""
        return self.ended_on is None
