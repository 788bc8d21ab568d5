"""The collection module's tables: its per-contract settings."""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db

#: Defaults of a contract that has no settings row yet.
DEFAULT_MAX_UNANSWERED_CALLS_PER_DAY = 6
DEFAULT_THIRD_PARTY_AFTER_FAILURES = 3


class CollectionSettings(db.Model):
    """A contract's compliance limits; its contact window is the contract's own."""

    __tablename__ = "collection_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contracts.id", ondelete="CASCADE"), unique=True
    )
    #: Unanswered calls allowed per number and debtor-local day; the next one is refused.
    max_unanswered_calls_per_day: Mapped[int] = mapped_column(
        default=DEFAULT_MAX_UNANSWERED_CALLS_PER_DAY
    )
    #: Failed calls in a row to the debtor after which third parties may be contacted.
    third_party_after_failures: Mapped[int] = mapped_column(
        default=DEFAULT_THIRD_PARTY_AFTER_FAILURES
    )

    contract = relationship("Contract")
