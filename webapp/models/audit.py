"""The audit log: one row per change anyone made, chained by hash so tampering shows.

Rows are only ever added.  Each row is *sealed* when its transaction commits: it gets
the next ``seq`` and a ``hash`` over its own content and the previous row's hash (see
``webapp.services.audit``).  A database trigger refuses DELETE, and UPDATE of a sealed
row, so the application cannot change history even by mistake; whoever bypasses the
trigger breaks the chain, which ``flask audit verify`` reports.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, binary_string, utcnow
from webapp.models.users import User


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Position in the chain: 1, 2, 3 … with no gaps; NULL only until the commit seals it.
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    # The unit the change belongs to, for "everything below my unit" (a range scan).
    unit_path: Mapped[str] = mapped_column(binary_string(512), index=True, default="")
    # Plain JSON (not JSONB): the stored text comes back exactly, so hashes recompute.
    before: Mapped[dict] = mapped_column(JSON, default=dict)
    after: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<AuditEntry {self.seq} {self.action} {self.object_type}:{self.object_id}>"
