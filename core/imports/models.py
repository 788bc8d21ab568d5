from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.types import UTCDateTime, utcnow


class HeaderMapping(db.Model):
    """A client's column mapping for one import kind, saved so the next file maps itself."""

    __tablename__ = "header_mappings"
    __table_args__ = (UniqueConstraint("client_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    #: The file's header text → field name ("" means the column is ignored).
    columns: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ImportRun(db.Model):
    """One uploaded file on its way in: its mapping, its dry-run report and its outcome."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    #: The user's file name, shown only; the file is stored under ``stored_name``.
    file_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of the file: the same file committed twice into a batch is refused.
    file_hash: Mapped[str] = mapped_column(String(64), index=True)
    #: uploaded → validated → committed, or failed.
    status: Mapped[str] = mapped_column(String(16), default="uploaded", index=True)
    header_row: Mapped[int] = mapped_column(default=1)
    columns: Mapped[dict] = mapped_column(JSON, default=dict)
    match_key: Mapped[str] = mapped_column(String(32), default="")
    skip_invalid: Mapped[bool] = mapped_column(default=False)
    #: Counts and the rejected rows (row, column, reason) of the last validation or commit.
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    job_id: Mapped[str | None] = mapped_column(String(36))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    batch = relationship("Batch")
    created_by = relationship("User")
