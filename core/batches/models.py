from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.types import UTCDateTime, utcnow

#: Batch statuses: 未导入 until the first import commits cases, then 已导入.
NOT_IMPORTED, IMPORTED = "not_imported", "imported"


class CategoryOption(db.Model):
    """An admin-defined option (类别设置): collection areas, case categories and the like."""

    __tablename__ = "category_options"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Which list the option belongs to: "area" (催收区域) or "case_category" (案件类别).
    kind: Mapped[str] = mapped_column(String(32), index=True)
    value: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class Batch(db.Model):
    """One hand-over (委案批次) of cases from the client, under one contract."""

    __tablename__ = "batches"
    __table_args__ = (UniqueConstraint("contract_id", "batch_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    #: 批次号, unique within the contract.
    batch_no: Mapped[str] = mapped_column(String(64))
    #: 委案日期 and the expected 退案日期.
    entrust_date: Mapped[date]
    expected_return_date: Mapped[date | None]
    area: Mapped[str] = mapped_column(String(120), default="")
    case_category: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(16), default=NOT_IMPORTED, index=True)
    #: Running number of cases given a generated serial, for ``JSZ1-000001``.
    serial_seq: Mapped[int] = mapped_column(default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    contract = relationship("Contract")

    def __str__(self) -> str:
        return self.batch_no
