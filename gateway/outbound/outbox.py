"""The outbox: every message the gateway sends is signed and stored here before anything else happens.

A handler emits inside its own transaction, so a notice exists exactly when the
decision that caused it is committed, and a retried handler never emits twice.
The row's messageId never changes: every delivery attempt, push or pull, sends
the same signed bytes, so the recipient can remove duplicates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree
from sqlalchemy import Connection, Engine, select, update

from gateway.broker.publisher import Published, Publisher
from gateway.broker.topology import Topology
from gateway.envelope import PartyRef
from gateway.outbound.compose import EnvelopeComposer, Subject
from gateway.parties import PartyRegistry
from gateway.store.engine import writing
from gateway.store.tables import OutboundStatus, outbox


class UnknownRecipient(Exception):
    """An outbound message was addressed to a party the registry does not know."""


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    pk: int
    message_id: str
    recipient: str
    document_type: str
    function: str
    correlation_id: str
    body: bytes


class Outbox:
    def __init__(self, engine: Engine, composer: EnvelopeComposer, parties: PartyRegistry) -> None:
        self.engine = engine
        self.composer = composer
        self.parties = parties

    def emit(
        self,
        tx: Connection,
        recipient: str,
        subject: Subject,
        content: etree._Element,
        correlation_id: str,
        source: int | None = None,
    ) -> OutboundMessage:
        """Sign and store a message for `recipient` in the caller's transaction."""
        party = self.parties.get(recipient)
        if party is None or not party.active:
            raise UnknownRecipient(f"cannot send {subject.document_type} to {recipient}: not an active party")
        composed = self.composer.compose(PartyRef(party.identity, party.name, party.country), subject, content)
        row = {
            "message_id": composed.message_id,
            "recipient": recipient,
            "document_type": subject.document_type,
            "function": subject.function,
            "reference": subject.reference,
            "pre_reference": subject.pre_reference,
            "correlation_id": correlation_id[:128],
            "source": source,
            "body": composed.body,
            "status": OutboundStatus.PENDING.value,
            "created_at": dt.datetime.now(dt.UTC),
            "attempts": 0,
        }
        pk = tx.execute(outbox.insert().values(row).returning(outbox.c.id)).scalar_one()
        return OutboundMessage(
            pk, composed.message_id, recipient, subject.document_type, subject.function, row["correlation_id"], composed.body
        )

    def awaiting_publication(self, created_before: dt.datetime, limit: int) -> list[OutboundMessage]:
        """Stored messages the broker has not confirmed on the outbound exchange, oldest first."""
        query = (
            select(outbox)
            .where(outbox.c.published_at.is_(None), outbox.c.created_at < created_before)
            .where(outbox.c.status == OutboundStatus.PENDING.value)
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [_outbound(row) for row in connection.execute(query)]

    def mark_published(self, pks: Iterable[int], at: dt.datetime) -> None:
        pks = list(pks)
        if not pks:
            return
        with writing(self.engine) as tx:
            tx.execute(update(outbox).where(outbox.c.id.in_(pks), outbox.c.published_at.is_(None)).values(published_at=at))


def _outbound(row) -> OutboundMessage:  # type: ignore[no-untyped-def]
    return OutboundMessage(
        row.id, row.message_id, row.recipient, row.document_type, row.function, row.correlation_id, row.body
    )


def publish_outbound(publisher: Publisher, topology: Topology, message: OutboundMessage) -> Published:
    """Put a stored outbound message on the outbound exchange (routing key: its recipient)."""
    return publisher.publish(
        topology.outbound_exchange,
        message.recipient,
        message.body,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        headers={
            "x-outbox-id": message.pk,
            "x-recipient": message.recipient,
            "x-document-type": message.document_type,
            "x-function": message.function,
        },
    )
