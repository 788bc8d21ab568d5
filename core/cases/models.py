from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.types import UTCDateTime, utcnow


class Case(db.Model):
    """One overdue account placed under a contract."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    #: 个案序列号: the bank's or agency's unique case code, e.g. ``JSZ1-000001``.
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    #: 证件号, 卡号, 手机号: always text, shown masked unless the user may unmask.
    id_no: Mapped[str] = mapped_column(String(32), default="")
    card_no: Mapped[str] = mapped_column(String(32), default="")
    mobile: Mapped[str] = mapped_column(String(32), default="")
    entrusted_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    #: normal, paused, closed, returned or settled.
    status: Mapped[str] = mapped_column(String(16), default="normal", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contract = relationship("Contract")
