"""What a customs function works with: one transaction, the time, the rules, the parties, and a way to send
(and, for the operators' certificate alerts, the certificates in use).

The routing layer builds a `Context` for each message it hands to a handler (and
for each run of a timer task); customs functions never see the process's other
services. Everything they write goes through `tx`, and what they send is signed
and stored in the outbox in that same transaction, so an effect and the messages
it causes are committed together, exactly once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from lxml import etree
from sqlalchemy import Connection

from customs.rules import Rules
from gateway.envelope import PartyRef
from gateway.outbound.compose import Subject
from gateway.outbound.outbox import OutboundMessage
from gateway.parties import PartyRegistry
from gateway.signing.expiry import CertificateInUse


class Outgoing(Protocol):
    """Where sent messages go (the gateway's outbox)."""

    def emit(
        self,
        tx: Connection,
        recipient: str,
        subject: Subject,
        content: etree._Element,
        correlation_id: str,
        source: int | None = None,
        *,
        actor: str,
    ) -> OutboundMessage: ...

    def check(self, document_type: str, content: etree._Element) -> None: ...


@dataclass
class Context:
    tx: Connection
    now: dt.datetime
    rules: Rules
    parties: PartyRegistry
    gateway: PartyRef  # this gateway, as a party
    outgoing: Outgoing
    correlation_id: str
    actor: str  # the component this runs in ("worker", "timers"): the sender in the emitted messages' history
    certificates: Callable[[], Sequence[CertificateInUse]]  # every certificate in use, the gateway's own included
    source: int | None = None  # the store id of the inbound message being handled, if any
    emitted: list[OutboundMessage] = field(default_factory=list)

    def emit(self, recipient: str, subject: Subject, content: etree._Element) -> OutboundMessage:
        """Sign and store a message for `recipient`; it is published once the transaction commits."""
        message = self.outgoing.emit(
            self.tx, recipient, subject, content, self.correlation_id, self.source, actor=self.actor
        )
        self.emitted.append(message)
        return message

    def check(self, document_type: str, content: etree._Element) -> None:
        """Raise `InvalidOutboundMessage` if `content` is not a valid payload of `document_type`."""
        self.outgoing.check(document_type, content)
