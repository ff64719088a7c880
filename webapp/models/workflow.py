"""Persistence of the workflow engine: definitions and their versions, running instances,
the inbox index of their tasks, the append-only history, timers and shared capacity.

The engine's ``InstanceState`` (JSON in ``Instance.state``) is the truth about an instance;
``Task``/``TaskAssignee`` rows are the index that lets an inbox or a pool be one indexed
query, kept in step with the state by the engine's effects in the same transaction.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, false, text)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.org import OrgUnit
from webapp.models.types import UTCDateTime, binary_string, utcnow
from webapp.models.users import User

JSONType = JSON().with_variant(JSONB(), "postgresql")


class ProcessDefinition(db.Model):
    """A process (by key) across all its published versions."""

    __tablename__ = "process_definitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    # Retired: no new starts; running instances finish on their version.
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[DefinitionVersion]] = relationship(
        back_populates="definition", order_by="DefinitionVersion.version")

    @property
    def latest(self) -> DefinitionVersion | None:
        return self.versions[-1] if self.versions else None


class DefinitionVersion(db.Model):
    __tablename__ = "definition_versions"
    __table_args__ = (UniqueConstraint("definition_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(200), default="")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    definition: Mapped[ProcessDefinition] = relationship(back_populates="versions")
    published_by: Mapped[User | None] = relationship()


class Instance(db.Model):
    """One run of a process, pinned to the version it started on."""

    __tablename__ = "instances"
    __table_args__ = (
        Index("ix_instances_process_status", "process_key", "status"),
        Index("ix_instances_applicant_status", "applicant_id", "status"),
        # Covers the open-demands report (and the wishes report's join to stations): read
        # from the index alone, never from the rows with their JSON states.
        Index("ix_instances_process_status_station", "process_key", "status", "station_id",
              "category", "steps", "created_at", "id"),
        Index("ix_instances_process_category", "process_key", "category"),
        # A unit's requests of one process (五个一: the station-master duties of a page of
        # party branches): without it PostgreSQL intersected every request of the process
        # with the units' requests.
        Index("ix_instances_process_unit_path", "process_key", "unit_path"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("definition_versions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(64))
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    # The applicant's unit path at the start: staff see instances below their units.
    unit_path: Mapped[str] = mapped_column(binary_string(512), index=True, default="")
    status: Mapped[str] = mapped_column(String(20), default="running")
    steps: Mapped[str] = mapped_column(String(200), default="")  # current step ids, comma-separated
    title: Mapped[str] = mapped_column(String(200), default="")
    # The title in English where it reads otherwise (made from choices' and stations'
    # English names); None where it reads the same (a title the applicant typed).
    title_en: Mapped[str | None] = mapped_column(String(200))
    # For "one active per applicant" rules: the engine's key for what must be unique.
    unique_key: Mapped[str | None] = mapped_column(String(200))
    # Set while the instance runs if its process allows one at a time per applicant (or
    # per unique key); the unique index turns a race of two starts into one refusal.
    active_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    state: Mapped[dict] = mapped_column(JSONType)
    # Copies of the form data's ``station`` (a unit id) and ``category``, kept by every
    # save (services/instance_columns.py), so reports group and filter by columns instead
    # of parsing every state.
    station_id: Mapped[int | None] = mapped_column(Integer)
    # That station's unit path: its street and district oversee the request too (they
    # run the station), as staff oversee it from the applicant's unit (``unit_path``).
    station_path: Mapped[str | None] = mapped_column(binary_string(512), index=True)
    category: Mapped[str | None] = mapped_column(String(200))
    # Bumped by every action; a write that read an older one is a conflict (409).
    lock_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    version: Mapped[DefinitionVersion] = relationship()
    applicant: Mapped[User] = relationship()
    unit: Mapped[OrgUnit | None] = relationship()

    def title_in(self, locale: str) -> str:
        """What lists call the request, in ``locale`` ("zh" or "en")."""
        return self.title_en if str(locale).startswith("en") and self.title_en else self.title

    @classmethod
    def title_column(cls, locale: str):
        """``title_in`` as a column expression, for queries that read titles only."""
        from sqlalchemy import func

        return func.coalesce(cls.title_en, cls.title) if str(locale).startswith("en") \
            else cls.title


class Submission(db.Model):
    """A start form sent once: the key the form (or an API client's ``Idempotency-Key``)
    carried, and the request it started.  The same form sent again — a flaky network's
    retry, the browser's "resubmit", a double tap that got past the button — finds it
    and is shown that request instead of starting a second one.  Its own table: the
    instances' rows, updated by every step, carry no extra index for it."""

    __tablename__ = "submissions"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # "<user id>:<nonce>"
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # An API start's SHA-256 of what it sent (process, body, files): the same key with
    # another request is refused, not answered with this one.  None for a web form.
    fingerprint: Mapped[str | None] = mapped_column(String(64))


class Task(db.Model):
    """The inbox index of one engine task (open or closed)."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("instance_id", "key"),
        Index("ix_tasks_pool", "status", "pool_role", "pool_unit_path"),
        # The open pooled tasks by request, newest first (the wish wall's order): without
        # it the wall walked back through every task of every newer request.
        Index("ix_tasks_open_pool_instance", "instance_id",
              postgresql_where=text("status = 'open' AND pool_role IS NOT NULL"),
              sqlite_where=text("status = 'open' AND pool_role IS NOT NULL")),
        # Open tasks nobody holds (the administrators' "unassigned" list and its count):
        # usually none, so the index is tiny; without it every open task was checked
        # against the assignees.
        Index("ix_tasks_open_unheld", "opened_at",
              postgresql_where=text("status = 'open' AND unheld"),
              sqlite_where=text("status = 'open' AND unheld")),
        # The open tasks' ids in order, for joining a person's assignments by the index.
        Index("ix_tasks_open_id", "id", postgresql_where=text("status = 'open'"),
              sqlite_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))  # the engine's task id in the instance
    step: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | closed
    outcome: Mapped[str | None] = mapped_column(String(20))
    pool_role: Mapped[str | None] = mapped_column(String(32))
    pool_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    pool_unit_path: Mapped[str | None] = mapped_column(binary_string(512))
    pool_within: Mapped[bool] = mapped_column(Boolean, default=True)
    pool_anyone: Mapped[bool] = mapped_column(Boolean, default=False)
    # An open task for named people that nobody holds (kept by every save).
    unheld: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    instance: Mapped[Instance] = relationship()
    assignees: Mapped[list[TaskAssignee]] = relationship(cascade="all, delete-orphan")


class TaskAssignee(db.Model):
    """A person the task is for (resolved by the step's rule, or its claimer)."""

    __tablename__ = "task_assignees"
    __table_args__ = (
        # A person's tasks by the index alone (with ix_tasks_open_id: the inbox's count of
        # a person's open tasks is an index-only merge join, not a probe per task ever
        # assigned to them).
        Index("ix_task_assignees_user_task", "user_id", "task_id"),
        # A person's open tasks, oldest first (the inbox and its count): read from here
        # alone, whatever else is open in the city and whatever they held before.
        Index("ix_task_assignees_open", "user_id", "open_since", "task_id",
              postgresql_where=text("open_since IS NOT NULL"),
              sqlite_where=text("open_since IS NOT NULL")),
    )

    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    # The task's ``opened_at`` while it is open, else NULL.  Kept by the database itself
    # (triggers of migration e2a7c5d10b64: on inserting an assignee, and when a task's
    # status changes), so every writer keeps it — the engine's plain INSERT/UPDATEs, the
    # ORM, a bulk load — without a statement of its own.  Never set it here.
    open_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


class HistoryEntry(db.Model):
    """Append-only: who did what to an instance, when, with what comment and data."""

    __tablename__ = "history"
    __table_args__ = (UniqueConstraint("instance_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(64))
    task_key: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSONType)

    actor: Mapped[User | None] = relationship()


class Timer(db.Model):
    """A wake-up the engine asked for: the row is the whole alarm, which the workers'
    sweep fires when due (``workflow.fire_due_timers``)."""

    __tablename__ = "timers"
    __table_args__ = (UniqueConstraint("instance_id", "key"),
                      Index("ix_timers_status_fire_at", "status", "fire_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"))
    key: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(20))
    task_key: Mapped[str | None] = mapped_column(String(64))
    fire_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|fired|cancelled
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CapacityResource(db.Model):
    """Something with a limited number of places: a course's seats, a duty slot, a quota."""

    __tablename__ = "capacity_resources"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    capacity: Mapped[int | None] = mapped_column(Integer)
    granted: Mapped[int] = mapped_column(Integer, default=0)
    next_seq: Mapped[int] = mapped_column(Integer, default=1)
    # What it counts places for will not happen (a duty slot its station called off):
    # nobody takes a place or a waiting place any more, and a place given back goes to
    # nobody.  Set under the row's lock (``directory.close_resource``).
    closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Reservation(db.Model):
    __tablename__ = "reservations"
    __table_args__ = (UniqueConstraint("resource_key", "instance_id"),
                      Index("ix_reservations_queue", "resource_key", "status", "seq"))

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_key: Mapped[str] = mapped_column(ForeignKey("capacity_resources.key"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"))
    status: Mapped[str] = mapped_column(String(12))  # granted | waitlisted | released
    seq: Mapped[int] = mapped_column(Integer)  # arrival order on the waiting list
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarDay(db.Model):
    """An exception to Monday–Friday: a public holiday, or a make-up working day (调休)."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(50), default="")
