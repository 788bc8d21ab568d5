"""The collection module's tables: settings and result codes per contract, each case's work
state, promises, complaints, message templates, the SMS/letter outbox and allocation plans.

What every module reads (holders, the timeline, payments) stays in the core's case file;
these tables hold only what the collection workflow adds to it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import day_totals
from core.cases.models import copy_the_cases_contract
from core.extensions import db
from core.types import UTCDateTime, utcnow

Money = Numeric(14, 2)

#: Defaults of a contract that has no settings row yet.
DEFAULT_MAX_UNANSWERED_CALLS_PER_DAY = 6
DEFAULT_THIRD_PARTY_AFTER_FAILURES = 3
DEFAULT_FIRST_CONTACT_HOURS = 48
DEFAULT_COMPLAINT_DEADLINE_HOURS = 72


class CollectionSettings(db.Model):
    """A contract's collection rules; its contact window and time zone are the contract's own."""

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
    #: 首催时限: hours from assignment within which a new case must get its first contact.
    first_contact_hours: Mapped[int] = mapped_column(default=DEFAULT_FIRST_CONTACT_HOURS)
    #: Hours a handler has to resolve a complaint from its registration.
    complaint_deadline_hours: Mapped[int] = mapped_column(default=DEFAULT_COMPLAINT_DEADLINE_HOURS)
    #: The agency's name and phone as letters and messages quote them (merge fields).
    agency_name: Mapped[str] = mapped_column(String(120), default="")
    agency_phone: Mapped[str] = mapped_column(String(40), default="")

    contract = relationship("Contract")


class ResultCode(db.Model):
    """One result a collector may pick for a record on this contract (承诺还款, 拒绝还款 …).

    ``outcome`` says what the result means to the rules and reports, whatever the contract
    calls it: a contract may rename or add codes, the gate and the queues read the outcome.
    """

    __tablename__ = "collection_result_codes"
    __table_args__ = (UniqueConstraint("contract_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    #: Stored on the activity (``Activity.result``).
    code: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(80))
    #: promise, right_party, unanswered, invalid_number, wrong_person, claims_paid,
    #: complaint or other (see plugins.collection.results.OUTCOMES).
    outcome: Mapped[str] = mapped_column(String(20), default="other")
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class CaseWork(db.Model):
    """Where the collection of one case stands: what the workbench queues are read from.

    Kept up to date on assignment and on each record, so a collector's queues are index
    reads instead of scans of the timeline.
    """

    __tablename__ = "collection_case_work"
    __table_args__ = (
        Index(
            "ix_collection_case_work_holder_id_first_contact_due", "holder_id", "first_contact_due"
        ),
        Index("ix_collection_case_work_holder_id_follow_up_at", "holder_id", "follow_up_at"),
    )

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    #: The case's holder, copied here so a collector's queues need no join to find theirs.
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Deadline for the first contact since assignment; ``None`` once contacted.
    first_contact_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_result: Mapped[str] = mapped_column(String(40), default="")
    #: The next follow-up the collector set on their latest record.
    follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case = relationship("Case")


#: Promise states.
PROMISE_PENDING, PROMISE_KEPT, PROMISE_BROKEN = "pending", "kept", "broken"


class Promise(db.Model):
    """A promise to pay (PTP) made on a record, later judged kept or broken."""

    __tablename__ = "collection_promises"
    __table_args__ = (
        Index("ix_collection_promises_status_due_on", "status", "due_on"),
        Index("ix_collection_promises_user_id_status_due_on", "user_id", "status", "due_on"),
        Index("ix_collection_promises_case_id_due_on", "case_id", "due_on"),
        # A period's promises of some contracts: made in it, and judged in it.
        Index("ix_collection_promises_contract_id_created_at", "contract_id", "created_at"),
        Index("ix_collection_promises_contract_id_evaluated_at", "contract_id", "evaluated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    #: The case's contract, copied when the promise is made (a case never changes contract):
    #: the reports read a contract's promises of a period without looking every case up.
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), unique=True
    )
    #: The collector who took the promise.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default=PROMISE_PENDING)
    #: Confirmed repayments counted towards it when it was judged.
    paid_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case = relationship("Case")
    user = relationship("User")


copy_the_cases_contract(Promise)


class DayFigures(db.Model):
    """Each collector's scorecard figures per agency-local day and contract: what the
    scorecard of a period sums instead of reading every record and promise of it
    (``core.day_totals``). Records are counted by the module's ``after_activity_recorded``,
    promises by the ORM as they are written (``day_figures.py``); ``maple db rebuild-totals``
    rebuilds it all, switching the module on or changing a result's outcome one contract."""

    __tablename__ = "collection_day_figures"

    day: Mapped[date] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(primary_key=True)
    #: Who recorded or took them; ``core.day_totals.NO_USER`` for imports and the system.
    user_id: Mapped[int] = mapped_column(primary_key=True)
    #: Contact records, the module's own SMS and letter entries aside.
    attempts: Mapped[int] = mapped_column(default=0)
    #: Those whose result reached the debtor, by the contract's result codes as they are now.
    right_party: Mapped[int] = mapped_column(default=0)
    #: Promises made on the day (``Promise.created_at``).
    promises_made: Mapped[int] = mapped_column(default=0)
    #: Promises judged on the day (``Promise.evaluated_at``) and kept or broken now.
    promises_kept: Mapped[int] = mapped_column(default=0)
    promises_broken: Mapped[int] = mapped_column(default=0)


def _promise_contribution(values: dict) -> list[tuple[dict, dict]]:
    """A promise counts as made on its day, and as kept or broken on the day it was judged
    so, while it stands so (a broken promise a late payment kept moves from one to the other;
    a replaced one is never judged)."""
    if values["contract_id"] is None or values["created_at"] is None:
        return []
    user_id = values["user_id"] if values["user_id"] is not None else day_totals.NO_USER
    keys = {"contract_id": values["contract_id"], "user_id": user_id}
    found = [({**keys, "day": day_totals.local_date(values["created_at"])}, {"promises_made": 1})]
    judged = _JUDGED_FIGURES.get(values["status"])
    if judged is not None and values["evaluated_at"] is not None:
        day = day_totals.local_date(values["evaluated_at"])
        found.append(({**keys, "day": day}, {judged: 1}))
    return found


_JUDGED_FIGURES = {PROMISE_KEPT: "promises_kept", PROMISE_BROKEN: "promises_broken"}


day_totals.kept_by_rows(
    Promise,
    DayFigures.__table__,
    ("contract_id", "user_id", "created_at", "status", "evaluated_at"),
    _promise_contribution,
)


#: Complaint states.
COMPLAINT_OPEN, COMPLAINT_RESOLVED = "open", "resolved"


class Complaint(db.Model):
    """A complaint (投诉) about the collection of a case: the case is held until resolved."""

    __tablename__ = "collection_complaints"
    __table_args__ = (
        Index("ix_collection_complaints_status_due_at", "status", "due_at"),
        Index("ix_collection_complaints_case_id_status", "case_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    #: phone, letter, bank (through the client), regulator, other.
    channel: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Registration plus the contract's complaint deadline.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=COMPLAINT_OPEN)
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case = relationship("Case")
    registered_by = relationship("User", foreign_keys=[registered_by_id])
    handler = relationship("User", foreign_keys=[handler_id])


#: Template and message channels.
LETTER, SMS = "letter", "sms"


class MessageTemplate(db.Model):
    """A letter or SMS text of a contract, with merge fields such as ``{name}``."""

    __tablename__ = "collection_templates"
    __table_args__ = (UniqueConstraint("contract_id", "channel", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    #: Letters: the title printed above the body.
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    contract = relationship("Contract")


#: Outbox states: queued (stored, no gateway took it), sent, failed.
QUEUED, SENT, FAILED = "queued", "sent", "failed"


class OutboxMessage(db.Model):
    """A message sent (or to be sent) to a debtor: what the gateway got and what became of it."""

    __tablename__ = "collection_outbox"
    __table_args__ = (Index("ix_collection_outbox_status_created_at", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("collection_templates.id", ondelete="SET NULL")
    )
    #: The timeline entry the message was recorded as.
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activities.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(16), default=SMS)
    #: The number (or address) it goes to.
    recipient: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    #: Which gateway took it ("outbox" for the built-in one) and its reference.
    gateway: Mapped[str] = mapped_column(String(40), default="")
    gateway_ref: Mapped[str] = mapped_column(String(120), default="")
    error: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case = relationship("Case")
    template = relationship("MessageTemplate")


class AllocationPlan(db.Model):
    """An allocation previewed by a user: committed as previewed, or not at all."""

    __tablename__ = "collection_allocation_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: manual, even_count, even_amount, area_team, same_debtor.
    strategy: Mapped[str] = mapped_column(String(20))
    #: The strategy's inputs (the case filter or selection, the collectors or teams).
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    #: [[case_id, user_id or None, team_id or None], …] as previewed.
    assignments: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")
