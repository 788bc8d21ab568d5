"""What the ``send_sms`` hook passes to a gateway and what a gateway answers."""

from __future__ import annotations

from dataclasses import dataclass

#: Receipt states: the gateway sent it, refused it, or holds it to send later.
SENT, FAILED, QUEUED = "sent", "failed", "queued"


@dataclass(frozen=True)
class SmsMessage:
    #: The :class:`core.cases.models.Case` the message is about.
    case: object
    #: The debtor's number, unmasked: only the gateway sees it.
    number: str
    #: The text, its merge fields already filled (personal numbers masked).
    body: str
    #: The sender's own id for the message (the outbox row), for delivery reports.
    reference: str


@dataclass(frozen=True)
class SmsReceipt:
    #: The gateway's name, e.g. ``"outbox"`` for the built-in one.
    gateway: str
    status: str = SENT
    #: The gateway's id for the message.
    reference: str = ""
    #: Why it failed, when it did.
    error: str = ""
