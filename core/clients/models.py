from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.types import UTCDateTime, utcnow


class Client(db.Model):
    """A bank or lender that hands cases to the agency (委托方)."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: Short code used in case serials, e.g. ``JSZ`` for 江苏中行.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contracts: Mapped[list[Contract]] = relationship(back_populates="client")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Contract(db.Model):
    """The agreement under which a client places cases, and the modules it pays for."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    start_date: Mapped[date]
    end_date: Mapped[date | None]
    #: IANA zone that contact windows are read in, unless a case says otherwise.
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    #: Default contact-hour window (debtor's local time): no calls or visits outside it.
    contact_start: Mapped[time] = mapped_column(default=time(8, 0))
    contact_end: Mapped[time] = mapped_column(default=time(22, 0))
    #: Commission on recovered money, as a fraction (0.1500 = 15 %).
    commission_rate: Mapped[Decimal] = mapped_column(Numeric(6, 4), default=Decimal(0))
    notes: Mapped[str] = mapped_column(Text, default="")
    #: Bumped whenever a module is switched, so every process drops its cached hook view.
    modules_version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    client: Mapped[Client] = relationship(back_populates="contracts")
    module_rows: Mapped[list[ContractModule]] = relationship(
        back_populates="contract", cascade="all, delete-orphan"
    )

    @property
    def enabled_modules(self) -> set[str]:
        return {row.module for row in self.module_rows}

    def __str__(self) -> str:
        return self.number


class ContractModule(db.Model):
    """One module switched on for one contract."""

    __tablename__ = "contract_modules"
    __table_args__ = (UniqueConstraint("contract_id", "module"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    module: Mapped[str] = mapped_column(String(64))
    enabled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enabled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    contract: Mapped[Contract] = relationship(back_populates="module_rows")
