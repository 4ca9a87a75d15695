"""Sharing: signed copies of documents and decisions for the parties subscribed to them.

The subscriptions are in business.toml [[sharing.subscription]]: a party, the
document types it receives, and when ("always", or "needs_subscriber_inspection":
only when the subscriber is one of the ministries that must inspect the goods,
which only the caller deciding the declaration knows).

A copy is a new envelope from the gateway to the subscriber, signed and stored in
the caller's transaction (so it exists exactly when what it copies is committed),
with the original's documentType, function, payload and Subject/reference. Its
preReference names the original message. A party that already holds the
original (its sender, or the recipient of a gateway document) gets no copy.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from lxml import etree
from sqlalchemy import Connection, select

from customs.context import Context
from customs.rules import Subscription
from gateway.outbound.compose import Subject
from gateway.store.tables import messages, outbox

log = structlog.get_logger(__name__)


def share(
    context: Context,
    document_type: str,
    function: str,
    payload: etree._Element,
    *,
    reference: str | None,
    pre_reference: str | None,
    inspecting_ministries: frozenset[str] = frozenset(),
) -> list[str]:
    """Send a copy to each subscriber of `document_type`; returns the copies' message ids.

    `pre_reference` is the original's messageId (an inbound message, or one the
    gateway sent): the copy carries it, and the parties holding that original are
    skipped.
    """
    rules = context.rules.business
    holders = _holders(context.tx, pre_reference)
    copies = []
    for party in subscribers(rules.subscriptions, document_type, inspecting_ministries):
        if party in holders:
            continue
        recipient = context.parties.get(party)
        if recipient is None or not recipient.active:
            log.warning(
                "subscriber is not an active party; no copy",
                party=party,
                document_type=document_type,
                correlation_id=context.correlation_id,
            )
            continue
        sent = context.emit(party, Subject(document_type, function, reference, pre_reference), payload)
        copies.append(sent.message_id)
        log.info(
            "copy shared",
            party=party,
            document_type=document_type,
            reference=reference,
            message_id=sent.message_id,
            pre_reference=pre_reference,
            correlation_id=context.correlation_id,
        )
    return copies


def subscribers(
    subscriptions: Iterable[Subscription], document_type: str, inspecting_ministries: frozenset[str]
) -> list[str]:
    """The parties that receive `document_type`, each once, in configuration order."""
    wanted = (
        s.party
        for s in subscriptions
        if document_type in s.document_types and (s.when == "always" or s.party in inspecting_ministries)
    )
    return list(dict.fromkeys(wanted))


def _holders(tx: Connection, message_id: str | None) -> frozenset[str]:
    """The parties that already hold the message `message_id`: its sender, or the recipient of one the gateway sent."""
    if message_id is None:
        return frozenset()
    senders = tx.execute(select(messages.c.sender).where(messages.c.message_id == message_id)).scalars()
    recipients = tx.execute(select(outbox.c.recipient).where(outbox.c.message_id == message_id)).scalars()
    return frozenset([*senders, *recipients])
