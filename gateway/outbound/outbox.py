"""The outbox: every message the gateway sends is signed and stored here before anything else happens.

A handler emits inside its own transaction, so a notice exists exactly when the
decision that caused it is committed, and a retried handler never emits twice.
The row's messageId never changes: every delivery attempt, push or pull, sends
the same signed bytes, so the recipient can remove duplicates.

The life of a row: `pending` until the recipient acknowledges it (a signed
MESSAGE_ACK after pulling it, or the signed receipt its endpoint returns to a
push: either is kept as the proof), then `delivered`; a push that keeps failing
is `parked` with its reason until an operator sends it again. Only messages for
recipients with an endpoint go to the broker; the others wait here to be pulled.
Every move goes through gateway/lifecycle.py, which keeps each row's history; the
methods that move a row return whether it moved (a refused move changes nothing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lxml import etree
from pika.spec import BasicProperties
from sqlalchemy import Connection, Engine, func, select, update

from gateway.broker.publisher import Outgoing, Published, Publisher, message_properties
from gateway.broker.topology import DELAY_HEADER, Topology
from gateway.envelope import PartyRef
from gateway.exceptions import UnknownRecipient
from gateway.lifecycle import OUTBOUND, OutboundStatus, Step, entered, history, transition, transition_many
from gateway.outbound.compose import EnvelopeComposer, Subject
from gateway.parties import PartyRegistry
from gateway.receipts import Batch
from gateway.store.engine import writing
from gateway.store.tables import outbox

UNDELIVERED = (OutboundStatus.PENDING.value, OutboundStatus.PARKED.value)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    pk: int
    message_id: str
    recipient: str
    document_type: str
    function: str
    correlation_id: str
    body: bytes
    push: bool = True  # the recipient has an endpoint: the message goes to the broker for delivery


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A row as delivery and operators see it."""

    message: OutboundMessage
    status: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    delivery_receipt: bytes | None
    reference: str | None
    pre_reference: str | None

    @property
    def pending(self) -> bool:
        return self.status == OutboundStatus.PENDING.value


class Outbox:
    def __init__(self, engine: Engine, composer: EnvelopeComposer, parties: PartyRegistry) -> None:
        self.engine = engine
        self.composer = composer
        self.parties = parties

    # --- in -----------------------------------------------------------------

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
    ) -> OutboundMessage:
        """Sign and store a message for `recipient` in the caller's transaction; `actor` emits it."""
        party = self.parties.get(recipient)
        if party is None or not party.active:
            raise UnknownRecipient(f"cannot send {subject.document_type} to {recipient}: not an active party")
        composed = self.composer.compose(PartyRef(party.identity, party.name, party.country), subject, content)
        now = dt.datetime.now(dt.UTC)
        push = party.endpoint is not None
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
            "created_at": now,
            # A message to be pulled has nothing to publish: it is ready as soon as it is stored.
            "published_at": None if push else now,
            "attempts": 0,
        }
        pk = tx.execute(OUTBOUND.with_initial_status(outbox.insert()).values(row).returning(outbox.c.id)).scalar_one()
        entered(tx, OUTBOUND, [pk], actor=actor, at=now)
        return OutboundMessage(
            pk, composed.message_id, recipient, subject.document_type, subject.function, row["correlation_id"],
            composed.body, push,
        )

    def check(self, document_type: str, content: etree._Element) -> None:
        """Raise `InvalidOutboundMessage` unless `content` could be sent as `document_type`."""
        self.composer.check(document_type, content)

    # --- onto the broker ----------------------------------------------------

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

    # --- delivery -----------------------------------------------------------

    def get(self, key: str | int) -> OutboxEntry | None:
        """The row with this messageId (str) or row number (int)."""
        column = outbox.c.id if isinstance(key, int) else outbox.c.message_id
        with self.engine.connect() as connection:
            row = connection.execute(select(outbox).where(column == key)).one_or_none()
        return _entry(row) if row else None

    def entries(self, limit: int = 50, status: str | None = None, recipient: str | None = None) -> list[OutboxEntry]:
        """The newest rows first, optionally of one status or recipient."""
        query = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(outbox.c.status == status)
        if recipient is not None:
            query = query.where(outbox.c.recipient == recipient)
        with self.engine.connect() as connection:
            return [_entry(row) for row in connection.execute(query)]

    def timeline(self, pk: int) -> list[Step]:
        """The row's moves from state to state, oldest first."""
        with self.engine.connect() as connection:
            return history(connection, OUTBOUND, pk)

    def mark_delivered(self, pk: int, proof: bytes, at: dt.datetime, actor: str, reason: str) -> bool:
        """Record the recipient's signed receipt of a pushed message; False if it was delivered already."""
        with writing(self.engine) as tx:
            return transition(
                tx, OUTBOUND, pk, OutboundStatus.DELIVERED, actor=actor, at=at, reason=reason,
                values={"delivered_at": at, "delivery_receipt": proof, "last_error": None},
            )

    def note_failure(self, pk: int, reason: str) -> int:
        """Count one failed push; returns the attempts so far."""
        with writing(self.engine) as tx:
            counted = update(outbox).where(outbox.c.id == pk).values(attempts=outbox.c.attempts + 1, last_error=reason[:4000])
            tx.execute(counted)
            return tx.execute(select(outbox.c.attempts).where(outbox.c.id == pk)).scalar_one()

    def park(self, pk: int, reason: str, at: dt.datetime, actor: str) -> bool:
        """Give up pushing a pending message until an operator resends it; False if it was not pending."""
        with writing(self.engine) as tx:
            return transition(
                tx, OUTBOUND, pk, OutboundStatus.PARKED, actor=actor, at=at, reason=reason,
                values={"last_error": reason[:4000]},
            )

    def unpark(self, pk: int, at: dt.datetime, actor: str, reason: str | None) -> bool:
        """Make a parked message pending again, with a fresh set of attempts, to be published anew.

        False (and nothing changed) when the message is not parked.
        """
        with writing(self.engine) as tx:
            return bool(unpark_many(tx, [pk], at, actor, reason))

    # --- pull ---------------------------------------------------------------

    def batch_for(self, recipient: str, limit: int, max_bytes: int) -> Batch:
        """The recipient's undelivered messages, oldest first: at most `limit`, and `max_bytes` (but one at least)."""
        undelivered = (outbox.c.recipient == recipient) & outbox.c.status.in_(UNDELIVERED)
        with self.engine.connect() as connection:
            total = connection.execute(select(func.count()).select_from(outbox).where(undelivered)).scalar_one()
            rows = connection.execute(select(outbox.c.body).where(undelivered).order_by(outbox.c.id).limit(limit))
            taken: list[bytes] = []
            size = 0
            for (body,) in rows:
                if taken and size + len(body) > max_bytes:
                    break
                taken.append(body)
                size += len(body)
        return Batch(tuple(taken), total - len(taken))

    def acknowledge(
        self, recipient: str, message_ids: Sequence[str], proof: bytes, at: dt.datetime, actor: str, reason: str
    ) -> int:
        """Mark delivered those of `message_ids` that are the recipient's and undelivered; returns how many.

        Ids that are another party's, unknown or delivered already are passed over.
        """
        with writing(self.engine) as tx:
            theirs = tx.execute(
                select(outbox.c.id).where(outbox.c.recipient == recipient, outbox.c.message_id.in_(list(message_ids)))
            ).scalars()
            moved = transition_many(
                tx, OUTBOUND, list(theirs), OutboundStatus.DELIVERED, actor=actor, at=at, reason=reason,
                values={"delivered_at": at, "delivery_receipt": proof},
            )
        return len(moved)


def _outbound(row) -> OutboundMessage:  # type: ignore[no-untyped-def]
    return OutboundMessage(
        row.id, row.message_id, row.recipient, row.document_type, row.function, row.correlation_id, row.body
    )


def _entry(row) -> OutboxEntry:  # type: ignore[no-untyped-def]
    return OutboxEntry(
        _outbound(row),
        row.status,
        row.attempts,
        row.last_error,
        row.created_at,
        row.delivered_at,
        row.delivery_receipt,
        row.reference,
        row.pre_reference,
    )


def carried(properties: BasicProperties, body: bytes) -> OutboundMessage:
    """The outbound message a broker copy carries, as `publish_outbound` put it there."""
    headers = properties.headers or {}
    return OutboundMessage(
        int(headers["x-outbox-id"]), str(properties.message_id), str(headers["x-recipient"]),
        str(headers["x-document-type"]), str(headers["x-function"]), properties.correlation_id or "", body,
    )


def unpark_many(tx: Connection, pks: Iterable[int], at: dt.datetime, actor: str, reason: str | None) -> list[int]:
    """In the caller's transaction: the parked ones of `pks` become pending, with a fresh set of attempts and
    unpublished (the relay publishes them); returns those that moved."""
    return transition_many(
        tx, OUTBOUND, pks, OutboundStatus.PENDING, actor=actor, at=at, reason=reason,
        values={"attempts": 0, "published_at": None},
    )


def publish_outbound(
    publisher: Publisher, topology: Topology, message: OutboundMessage, delay_ms: int | None = None
) -> Published:
    """Put a stored outbound message on the outbound exchange and wait for the broker's confirm."""
    return publisher.send(outbound_message(topology, message, delay_ms))


def outbound_message(topology: Topology, message: OutboundMessage, delay_ms: int | None = None) -> Outgoing:
    """A stored outbound message as it goes to the outbound exchange (routing key: its recipient).

    With `delay_ms` it goes to the delay exchange instead, and reaches the outbound exchange
    (and so its recipient's push queue) when the delay is up.
    """
    headers: dict[str, object] = {
        "x-outbox-id": message.pk,
        "x-recipient": message.recipient,
        "x-document-type": message.document_type,
        "x-function": message.function,
    }
    if delay_ms is not None:
        headers[DELAY_HEADER] = str(delay_ms)
    return Outgoing(
        topology.outbound_exchange if delay_ms is None else topology.delay_exchange,
        message.recipient,
        message.body,
        message_properties(message.message_id, message.correlation_id, headers),
    )
