"""What the reports keep beyond the case file: commission tiers, closed commission months and
month-end bucket snapshots."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.cases.models import Money
from core.extensions import db
from core.types import UTCDateTime, utcnow


class CommissionTier(db.Model):
    """The contract's commission rate for cases of one bucket (佣金按账龄分档).

    A payment on a case whose bucket has no tier earns the contract's flat
    ``commission_rate``.
    """

    __tablename__ = "reports_commission_tiers"
    __table_args__ = (UniqueConstraint("contract_id", "bucket"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    #: M1 … M6, M6+ (core.cases.filters.BUCKETS).
    bucket: Mapped[str] = mapped_column(String(8))
    #: A fraction, like the contract's flat rate (0.1500 = 15 %).
    rate: Mapped[Decimal] = mapped_column(Numeric(6, 4))

    contract = relationship("Contract")


class CommissionClosing(db.Model):
    """A contract's commission month, closed (结算确认): its statement no longer changes.

    Closing keeps, per payment of the month, the bucket and rate it was priced at
    (:class:`ClosedCommissionLine`), and the totals agreed; a later change of tiers or of a
    case's bucket leaves the closed month as it was. Reopening (audited) drops them.
    """

    __tablename__ = "reports_commission_closings"
    __table_args__ = (UniqueConstraint("contract_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    #: The first day of the month closed.
    month: Mapped[date]
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The statement as closed: payments, recovered and commission in whole cents.
    payments: Mapped[int] = mapped_column(default=0)
    recovered_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    commission_cents: Mapped[int] = mapped_column(BigInteger, default=0)

    contract = relationship("Contract")
    closed_by = relationship("User")


class ClosedCommissionLine(db.Model):
    """One payment of a closed month, with the bucket and rate it was priced at."""

    __tablename__ = "reports_commission_closed_lines"

    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), primary_key=True
    )
    closing_id: Mapped[int] = mapped_column(
        ForeignKey("reports_commission_closings.id", ondelete="CASCADE"), index=True
    )
    bucket: Mapped[str] = mapped_column(String(8), default="")
    rate: Mapped[Decimal] = mapped_column(Numeric(6, 4))


#: What the roll-rate matrix groups by (in this order) and filters on.
MOVEMENT_COLUMNS = (
    "month", "previous_bucket", "bucket", "status", "previous_status",
    "contract_id", "batch_id", "holder_id", "team_id",
)  # fmt: skip


class BucketSnapshot(db.Model):
    """Where one case stood at the end of one month: what the roll-rate view compares.

    Taken by ``maple reports snapshot`` (monthly, from cron) for every case; the case's
    bucket in the previous month's snapshot is copied in, so a month's movements are read
    from that month's rows alone.
    """

    __tablename__ = "reports_bucket_snapshots"
    __table_args__ = (
        Index("ix_reports_bucket_snapshots_month_contract_id", "month", "contract_id"),
        # The roll-rate matrix (snapshots.roll_counts) groups a month's rows by these
        # columns in this order and filters on the rest: read from the index alone, unsorted.
        Index("ix_reports_bucket_snapshots_movement", *MOVEMENT_COLUMNS),
    )

    #: The first day of the month described (the snapshot is taken at its end).
    month: Mapped[date] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    #: Copied from the case so a report filters snapshots without joining cases.
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The team whose pool held the case (a team leader's figures count it).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    bucket: Mapped[str] = mapped_column(String(8), default="")
    status: Mapped[str] = mapped_column(String(16), default="")
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    #: The bucket in the previous month's snapshot; "" when the case was not in it.
    previous_bucket: Mapped[str] = mapped_column(String(8), default="")
    #: The status in the previous month's snapshot; "" when the case was not in it (a case
    #: already settled, closed or returned then is no movement of this month).
    previous_status: Mapped[str] = mapped_column(String(16), default="")
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
