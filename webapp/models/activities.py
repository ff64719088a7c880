"""The union activities' own data that processes refer to: training courses, duty slots
at stations, retreat batches and the quotas handed down the tree for them."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String,
                        Text, UniqueConstraint, func)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.org import OrgUnit
from webapp.models.types import UTCDateTime, utcnow


class Course(db.Model):
    """A free skills-training course (技能培训) run by a union unit."""

    __tablename__ = "courses"
    __table_args__ = (CheckConstraint("capacity > 0", name="capacity_positive"),
                      CheckConstraint("sessions > 0", name="sessions_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))  # e.g. 电工, 育婴, 驾驶安全, 电商直播
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    venue: Mapped[str] = mapped_column(String(200), default="")
    sessions: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    opens_on: Mapped[date] = mapped_column(Date)     # registration window
    closes_on: Mapped[date] = mapped_column(Date)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Eligibility, checked at registration (the definition's start checks): the
    # occupations it is for (comma-separated keys of the form's choices; empty: anyone)
    # and the age range in whole years on the day of registration (either end open).
    occupations: Mapped[str] = mapped_column(String(200), default="", server_default="")
    min_age: Mapped[int | None] = mapped_column(Integer)
    max_age: Mapped[int | None] = mapped_column(Integer)

    unit: Mapped[OrgUnit] = relationship()
    schedule: Mapped[list["CourseSession"]] = relationship(
        back_populates="course", order_by="CourseSession.starts_at")

    @property
    def occupation_keys(self) -> list[str]:
        return [k for k in (self.occupations or "").split(",") if k]

    @property
    def hours(self) -> float:
        """Teaching hours (学时): the sessions' lengths added up."""
        seconds = sum((s.ends_at - s.starts_at).total_seconds() for s in self.schedule)
        return round(seconds / 3600, 1)


class CourseSession(db.Model):
    """One class of a course (第 n 次课): when it is held and what it teaches."""

    __tablename__ = "course_sessions"
    __table_args__ = (UniqueConstraint("course_id", "starts_at"),
                      CheckConstraint("ends_at > starts_at", name="ends_after_start"))

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    topic: Mapped[str] = mapped_column(String(100), default="")

    course: Mapped[Course] = relationship(back_populates="schedule")


class Attendance(db.Model):
    """Whether a trainee (their registration) was present at one session; changed in
    place when the organiser corrects the register, with who and when."""

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("session_id", "instance_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("course_sessions.id"), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), index=True)
    present: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DutySlot(db.Model):
    """A station × day with a number of places for station masters (一日站长)."""

    __tablename__ = "duty_slots"
    __table_args__ = (UniqueConstraint("station_id", "starts_at"),
                      CheckConstraint("capacity > 0", name="capacity_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Called off by the station (closed for a storm): no longer offered, its sign-ups
    # ended with the reason; the row stays, as the requests name it.
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))

    station: Mapped[OrgUnit] = relationship()


class RetreatBatch(db.Model):
    """A model-worker retreat (疗休养) batch: dates, site and places in all."""

    __tablename__ = "retreat_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    site: Mapped[str] = mapped_column(String(200))
    # English pages, downloads and the start form's choice read these when set.
    name_en: Mapped[str | None] = mapped_column(String(100), nullable=True)
    site_en: Mapped[str | None] = mapped_column(String(200), nullable=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    capacity: Mapped[int] = mapped_column(Integer)
    nominations_close_on: Mapped[date] = mapped_column(Date)
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))  # the city

    owner_unit: Mapped[OrgUnit] = relationship()

    def label(self, locale: str) -> str:
        """The batch's name in ``locale`` ("zh"/"en"): the English one if there is one."""
        return self.name_en if locale.startswith("en") and self.name_en else self.name

    def site_label(self, locale: str) -> str:
        return self.site_en if locale.startswith("en") and self.site_en else self.site

    def status(self, today: date) -> str:
        """``open`` (nominations taken until the closing day, inclusive), ``closed``
        (nominations over, the retreat not yet over) or ``finished``."""
        if today <= self.nominations_close_on:
            return "open"
        return "closed" if today <= self.ends_on else "finished"


# One batch of a name, whatever its case, over every city (as the form checks it): two
# administrators saving the same name at once get one batch and one refusal.
Index("uq_retreat_batches_name", func.lower(RetreatBatch.name), unique=True)


class RetreatQuota(db.Model):
    """Places of a batch handed to a unit by the level above; never more than it holds."""

    __tablename__ = "retreat_quotas"
    __table_args__ = (UniqueConstraint("batch_id", "unit_id"),
                      CheckConstraint("amount >= 0", name="amount_not_negative"))

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("retreat_batches.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)

    batch: Mapped[RetreatBatch] = relationship()
    unit: Mapped[OrgUnit] = relationship()
