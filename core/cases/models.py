"""The case file: each case, its contact data, who holds it, what happened, what was paid."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from core import day_totals
from core.extensions import db
from core.types import UTCDateTime, utcnow

Money = Numeric(14, 2)

#: Case statuses; core.cases.services.STATUS_CHANGES says which may follow which.
NORMAL, PAUSED, CLOSED, RETURNED, SETTLED = "normal", "paused", "closed", "returned", "settled"
STATUSES = (NORMAL, PAUSED, CLOSED, RETURNED, SETTLED)


def _tail_of(column: str):
    """A column default: the last four characters of ``column`` in the same insert."""

    def tail(context) -> str:
        return (context.get_current_parameters().get(column) or "")[-4:]

    return tail


class Case(db.Model):
    """One overdue account (案件) placed in a batch under a contract."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_card_no_entrust_date", "card_no", "entrust_date"),
        Index("ix_cases_id_no_entrust_date", "id_no", "entrust_date"),
        Index("ix_cases_contract_id_status", "contract_id", "status"),
        Index("ix_cases_batch_id_id", "batch_id", "id"),
        # The case list (core.cases.filters): area and bucket are filtered together, the
        # page in id order; the capped count reads the index alone.
        Index("ix_cases_area_bucket_id", "area", "bucket", "id"),
        # A collector's cases: each contract's slice in id, amount or days order (the list
        # merges the slices), and ranges counted from the index alone.
        Index("ix_cases_contract_id_id", "contract_id", "id"),
        Index("ix_cases_contract_id_entrusted_amount", "contract_id", "entrusted_amount"),
        Index("ix_cases_contract_id_days_overdue", "contract_id", "days_overdue"),
        # Name prefix search (LIKE '王%') from an index in any PostgreSQL collation; the plain
        # ix_cases_name serves equality and ORDER BY name, and SQLite's GLOB (see
        # filters.starts_with). On SQLite this one is a second plain index on name: a
        # PostgreSQL-only index (ddl_if) is lost by Alembic's autogenerate, which renders and
        # compares every index on every database.
        Index("ix_cases_name_prefix", "name", postgresql_ops={"name": "varchar_pattern_ops"}),
        # A collector's own cases (core.cases.filters.holder_condition) on their contracts:
        # counted and paged from this index alone (a plain holder_id index left PostgreSQL
        # walking the primary key, 590 ms at 1M cases, and SQLite reading every held row).
        Index("ix_cases_holder_id_contract_id_id", "holder_id", "contract_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))

    # -- identity --------------------------------------------------------------------------
    #: 个案序列号: the bank's or agency's unique case code, e.g. ``JSZ1-000001``.
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    #: 档案号, the bank's file number.
    archive_no: Mapped[str] = mapped_column(String(64), default="", index=True)
    #: 卡号, 账号, 证件号, phones: always text, shown masked unless the user may unmask.
    card_no: Mapped[str] = mapped_column(String(32), default="")
    account_no: Mapped[str] = mapped_column(String(40), default="")
    id_type: Mapped[str] = mapped_column(String(20), default="")
    id_no: Mapped[str] = mapped_column(String(32), default="")
    #: Last four of the card and of the ID number, indexed so users can search by what a
    #: masked number shows. Filled from card_no / id_no on insert when not given; a service
    #: that changes card_no or id_no later sets them too.
    card_tail: Mapped[str] = mapped_column(String(4), default=_tail_of("card_no"), index=True)
    id_tail: Mapped[str] = mapped_column(String(4), default=_tail_of("id_no"), index=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    gender: Mapped[str] = mapped_column(String(8), default="")
    birthday: Mapped[date | None]

    # -- debt ------------------------------------------------------------------------------
    #: 委案金额: the debt at hand-over.
    entrusted_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), index=True)
    #: What is still owed: the entrusted amount less confirmed repayments.
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    principal: Mapped[Decimal | None] = mapped_column(Money)
    interest: Mapped[Decimal | None] = mapped_column(Money)
    late_fee: Mapped[Decimal | None] = mapped_column(Money)
    min_payment: Mapped[Decimal | None] = mapped_column(Money)
    days_overdue: Mapped[int | None] = mapped_column(index=True)
    #: 账龄 M1…M6, M6+ (derived from the days overdue when the bank gives none).
    bucket: Mapped[str] = mapped_column(String(8), default="", index=True)
    overdue_date: Mapped[date | None]
    last_payment_date: Mapped[date | None]
    last_payment_amount: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(8), default="CNY")

    # -- contact ---------------------------------------------------------------------------
    mobile: Mapped[str] = mapped_column(String(32), default="", index=True)
    email: Mapped[str] = mapped_column(String(120), default="")
    employer: Mapped[str] = mapped_column(String(200), default="")

    # -- placement -------------------------------------------------------------------------
    entrust_date: Mapped[date | None]
    return_date: Mapped[date | None]
    #: Kept beside ix_cases_area_bucket_id: an area alone, in id order (measured: without
    #: it a collector's area filter took 56 ms on SQLite at 1M cases, 33 ms with it).
    area: Mapped[str] = mapped_column(String(120), default="", index=True)
    province: Mapped[str] = mapped_column(String(40), default="")
    city: Mapped[str] = mapped_column(String(40), default="")
    remark: Mapped[str] = mapped_column(Text, default="")
    #: IANA zone of the debtor when it differs from the contract's.
    timezone: Mapped[str] = mapped_column(String(64), default="")

    # -- state -----------------------------------------------------------------------------
    status: Mapped[str] = mapped_column(String(16), default=NORMAL, index=True)
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    #: When the case was first contacted: its earliest contact record (kept by the ORM as
    #: records are written, see below), so the first-contact deadline (首催时限) of its
    #: assignments is judged without reading the timeline.
    first_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Who holds the case now (history in case_assignments).
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    contract = relationship("Contract")
    batch = relationship("Batch")
    holder = relationship("User", foreign_keys=[holder_id])
    team = relationship("Team")
    phones: Mapped[list[CasePhone]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CasePhone.id"
    )
    addresses: Mapped[list[CaseAddress]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseAddress.id"
    )
    contacts: Mapped[list[CaseContact]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseContact.position"
    )
    comments: Mapped[list[CaseComment]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseComment.id"
    )
    interest_entries: Mapped[list[CaseInterest]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseInterest.id"
    )


class CasePhone(db.Model):
    """A number of the debtor's (手机, 家庭电话, 单位电话 …)."""

    __tablename__ = "case_phones"
    #: Also the index on case_id (its leading column) that the foreign key and a case's
    #: phones need; no separate one.
    __table_args__ = (UniqueConstraint("case_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    #: mobile, home, work or other.
    kind: Mapped[str] = mapped_column(String(16), default="mobile")
    number: Mapped[str] = mapped_column(String(32))
    #: valid, invalid (the number does not work) or do_not_contact.
    status: Mapped[str] = mapped_column(String(16), default="valid")
    #: import or manual.
    source: Mapped[str] = mapped_column(String(16), default="import")
    note: Mapped[str] = mapped_column(String(200), default="")

    case: Mapped[Case] = relationship(back_populates="phones")


class CaseAddress(db.Model):
    """An address of the debtor's (家庭地址, 单位地址, 户籍地址, 对账单地址 …)."""

    __tablename__ = "case_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    #: home, work, hukou, statement or other.
    kind: Mapped[str] = mapped_column(String(16), default="home")
    address: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="valid")
    source: Mapped[str] = mapped_column(String(16), default="import")

    case: Mapped[Case] = relationship(back_populates="addresses")


class CaseContact(db.Model):
    """A third party the bank listed (联系人1–6): family, colleague, friend."""

    __tablename__ = "case_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=1)
    name: Mapped[str] = mapped_column(String(120), default="")
    relation: Mapped[str] = mapped_column(String(40), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    #: Never offered for contact once set (the contact objected).
    do_not_contact: Mapped[bool] = mapped_column(default=False)

    case: Mapped[Case] = relationship(back_populates="contacts")


class CaseComment(db.Model):
    """A remark (评语) imported from the bank or written by staff."""

    __tablename__ = "case_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="import")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="comments")
    author = relationship("User")


class CaseInterest(db.Model):
    """An interest entry (利息) the bank reports for a date."""

    __tablename__ = "case_interest"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    as_of: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Money)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="interest_entries")


class CaseAssignment(db.Model):
    """Who held a case, from when to when: the holder's history."""

    __tablename__ = "case_assignments"
    __table_args__ = (
        # The assignments that began in a period (first-contact deadlines in the reports).
        Index("ix_case_assignments_assigned_at", "assigned_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")

    user = relationship("User", foreign_keys=[user_id])
    team = relationship("Team")


class _PerHolderDay:
    """The keys of a per-day table of what holders held or were paid (core.cases.holdings).
    No batch: a day's payments spread over every batch, which would make nearly each payment
    a row of its own; a report of one batch reads the rows themselves."""

    day: Mapped[date] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(primary_key=True)
    #: The holder; ``core.day_totals.NO_USER`` for the pool, or nobody.
    user_id: Mapped[int] = mapped_column(primary_key=True)
    #: The assignment's own team, ``NO_TEAM`` when it has none (the holder's team then counts,
    #: as it stands when the figures are read: the rule of ``CaseAssignment.team_id``).
    team_id: Mapped[int] = mapped_column(primary_key=True)


class HoldingChange(_PerHolderDay, db.Model):
    """The holders' history summed per agency-local day: on ``day``, how many cases (and how
    much entrusted money) the holder began (+) or stopped (−) holding, per contract, holder
    and assignment team. What a holder held at the end of a day is the sum of the
    changes up to it, a few rows per holder and day instead of every assignment joined to its
    case (the reports' recovery rate and rankings).

    Kept by :mod:`core.cases.holdings` wherever assignments or entrusted amounts change,
    which writes set-wise; ``maple db rebuild-totals`` rebuilds it from ``case_assignments``.
    """

    __tablename__ = "holding_day_changes"

    cases: Mapped[int] = mapped_column(default=0)
    entrusted_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class Activity(db.Model):
    """One entry of a case's timeline: a contact record (催记) or a module's typed entry."""

    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_case_id_at", "case_id", "at"),
        # A period's records across every contract (a manager's activity report).
        Index("ix_activities_at", "at"),
        # A period's records of some contracts (a client's, or a report per contract).
        Index("ix_activities_contract_id_at", "contract_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    #: The case's contract, copied when the entry is written (a case never changes contract):
    #: reports read a contract's records of a period, and group them per contract, from this
    #: table alone instead of looking every record's case up.
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    #: "contact" for a collection record; modules add their own kinds ("visit", …).
    kind: Mapped[str] = mapped_column(String(32), default="contact")
    #: When it happened (not when it was entered).
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: phone, sms, letter, visit, other.
    channel: Mapped[str] = mapped_column(String(16), default="phone")
    #: debtor, spouse, relative, colleague, other.
    contact_type: Mapped[str] = mapped_column(String(16), default="debtor")
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    #: The number or address used.
    target: Mapped[str] = mapped_column(String(300), default="")
    result: Mapped[str] = mapped_column(String(40), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    promise_amount: Mapped[Decimal | None] = mapped_column(Money)
    promise_date: Mapped[date | None]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: manual, import or a module's name.
    source: Mapped[str] = mapped_column(String(32), default="manual")
    #: What a module's entry type adds beyond the common fields.
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case = relationship("Case")
    user = relationship("User")


def copy_the_cases_contract(model) -> None:
    """Have a row of ``model`` (with ``case_id`` and ``contract_id``: a timeline entry, a
    module's row that copies the contract to be read per contract) written without its
    contract take its case's: the services set it, a module or a fixture building the row
    itself may not. A case never changes contract."""

    @event.listens_for(model, "before_insert")
    def copy(mapper, connection, row) -> None:
        if row.contract_id is not None:
            return
        case = row.__dict__.get("case")
        if case is not None and case.contract_id is not None:
            row.contract_id = case.contract_id
        else:
            cases = Case.__table__
            row.contract_id = connection.scalar(
                select(cases.c.contract_id).where(cases.c.id == row.case_id)
            )


copy_the_cases_contract(Activity)


#: Payment kinds and states.
CLAIM, REPAYMENT = "claim", "repayment"
PENDING, CONFIRMED, REJECTED = "pending", "confirmed", "rejected"


class Payment(db.Model):
    """Money on a case: a claim (CP) waiting for confirmation, or a confirmed repayment."""

    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_case_id_status", "case_id", "status"),
        # A period's payments of some contracts (the recovery report, a client's figures).
        Index("ix_payments_contract_id_paid_on", "contract_id", "paid_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    #: The case's contract, copied when the payment is written (a case never changes
    #: contract): the reports read a period's payments per contract from this table alone.
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    kind: Mapped[str] = mapped_column(String(16), default=REPAYMENT)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_on: Mapped[date] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default=CONFIRMED)
    #: Why a claim was rejected, for whoever took it down.
    status_reason: Mapped[str] = mapped_column(String(200), default="")
    payer: Mapped[str] = mapped_column(String(120), default="")
    channel: Mapped[str] = mapped_column(String(40), default="")
    #: The bank's reference; unique per case so a repayment list imported twice adds nothing.
    reference: Mapped[str] = mapped_column(String(80), default="")
    source: Mapped[str] = mapped_column(String(16), default="manual")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case = relationship("Case")


copy_the_cases_contract(Payment)


class PaymentDayTotal(_PerHolderDay, db.Model):
    """Confirmed payments summed per day paid, contract and whom they are attributed to: whoever held the case at the end of the (agency-local) day paid, the rule the
    recovery report applies to each payment (``core.cases.holdings.end_of_paid_day``). What
    the rankings read instead of every payment of a period looked up in the holders' history.

    Kept by :mod:`core.cases.holdings` as payments are confirmed and as the holders' history
    changes; ``maple db rebuild-totals`` rebuilds it.
    """

    __tablename__ = "payment_day_totals"

    payments: Mapped[int] = mapped_column(default=0)
    paid_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class ActivityDayTotal(db.Model):
    """The timeline's entries summed per agency-local day, contract, user and kind: what a
    report over a period reads instead of every record of it (core.day_totals). Kept by the
    ORM as entries are written; ``maple db rebuild-totals`` rebuilds it from ``activities``."""

    __tablename__ = "activity_day_totals"

    day: Mapped[date] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(primary_key=True)
    #: Who entered the entries; ``core.day_totals.NO_USER`` for imports and the system.
    user_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    records: Mapped[int] = mapped_column(default=0)
    #: Entries carrying a promise to pay, and the amounts promised in whole cents.
    promises: Mapped[int] = mapped_column(default=0)
    promised_cents: Mapped[int] = mapped_column(BigInteger, default=0)


def _activity_contribution(values: dict):
    if values["contract_id"] is None or values["at"] is None:
        return []
    amount = values["promise_amount"]
    keys = {
        "day": day_totals.local_date(values["at"]),
        "contract_id": values["contract_id"],
        "user_id": values["user_id"] if values["user_id"] is not None else day_totals.NO_USER,
        "kind": values["kind"],
    }
    figures = {
        "records": 1,
        "promises": 0 if amount is None else 1,
        "promised_cents": 0 if amount is None else int(Decimal(amount) * 100),
    }
    return [(keys, figures)]


day_totals.kept_by_rows(
    Activity,
    ActivityDayTotal.__table__,
    ("at", "contract_id", "user_id", "kind", "promise_amount"),
    _activity_contribution,
)


# -- the case's first contact, kept as contact records are written -----------------------------


def _earliest_contact(case_id: int):
    return (
        select(func.min(Activity.__table__.c.at))
        .where(Activity.__table__.c.case_id == case_id, Activity.__table__.c.kind == "contact")
        .scalar_subquery()
    )


def _set_first_contact(connection, target: Activity, value, *conditions) -> None:
    cases = Case.__table__
    # The case's own update time stays: a contact is no change of the case file.
    done = connection.execute(
        update(cases)
        .where(cases.c.id == target.case_id, *conditions)
        .values(first_contact_at=value, updated_at=cases.c.updated_at)
    )
    # The case, if loaded in the session, learns its new value (it is read in the same
    # transaction, as by the case page).
    session = object_session(target)
    case = session.identity_map.get(identity_key(Case, target.case_id)) if session else None
    if case is not None and done.rowcount:
        found = connection.scalar(select(cases.c.first_contact_at).where(cases.c.id == case.id))
        set_committed_value(case, "first_contact_at", found)


@event.listens_for(Activity, "after_insert")
def _first_contact_on_insert(mapper, connection, target: Activity) -> None:
    if target.kind != "contact" or target.at is None:
        return
    first = Case.__table__.c.first_contact_at
    _set_first_contact(connection, target, target.at, or_(first.is_(None), first > target.at))


@event.listens_for(Activity, "after_update")
def _first_contact_on_update(mapper, connection, target: Activity) -> None:
    attributes = inspect(target).attrs
    if attributes.at.history.has_changes() or attributes.kind.history.has_changes():
        _set_first_contact(connection, target, _earliest_contact(target.case_id))


@event.listens_for(Activity, "after_delete")
def _first_contact_on_delete(mapper, connection, target: Activity) -> None:
    _set_first_contact(connection, target, _earliest_contact(target.case_id))
