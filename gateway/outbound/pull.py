"""Pulling: a MESSAGE_QUERY is answered with messages, a MESSAGE_ACK marks pulled messages delivered.

Both come in through any door and through the whole intake pipeline (verified,
authorised, validated, recorded) like every other message; the pipeline calls
these at its `pull` and `acknowledge` stages. Only the recipient can pull its
messages: the query's verified sender is the recipient asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from lxml import etree

from gateway.errors import ErrorCode, Rejected
from gateway.parties import Party
from gateway.receipts import Batch
from routing.permissions import ReadRefused, readable
from routing.rules import business_rules

if TYPE_CHECKING:
    from gateway.services import Services

MESSAGE_QUERY = "MESSAGE_QUERY"
MESSAGE_ACK = "MESSAGE_ACK"
QUERY_NS = "urn:customs.gov.vn:ecom:message-query:1"
ACK_NS = "urn:customs.gov.vn:ecom:message-ack:1"


def answer(query: etree._Element, reader: Party, services: Services) -> Batch:
    """What the query asks for: the reader's undelivered messages, or what it may read about a reference."""
    delivery = services.settings.delivery
    asked = query.findtext(f"{{{QUERY_NS}}}limit")
    limit = min(int(asked), delivery.batch_size) if asked else delivery.batch_size
    reference = query.findtext(f"{{{QUERY_NS}}}reference")
    if reference is None:
        return services.outbox.batch_for(reader.identity, limit, delivery.batch_bytes)
    return _about(reference.strip(), reader, services, limit)


def acknowledge(ack: etree._Element, sender: Party, proof: bytes, services: Services, at: dt.datetime) -> int:
    """Mark delivered the sender's messages the acknowledgement names; the signed acknowledgement is the proof."""
    message_ids = [element.text.strip() for element in ack.iterfind(f"{{{ACK_NS}}}messageId") if element.text]
    return services.outbox.acknowledge(sender.identity, message_ids, proof, at)


def _about(reference: str, reader: Party, services: Services, limit: int) -> Batch:
    try:
        with services.engine.connect() as connection:
            entries = readable(connection, reader, reference, rules=business_rules(services.settings.business_file))
    except ReadRefused as refused:
        where = "/Envelope/Body/Content/MessageQuery/reference"
        raise Rejected.of(ErrorCode.READ_NOT_PERMITTED, refused.reason, where) from None
    # Decisions are records, not messages: only signed envelopes travel in a batch.
    bodies = [entry["body"] for entry in entries if entry["body"] is not None]
    return Batch(tuple(bodies[:limit]), max(0, len(bodies) - limit))


# --- the party's side ---------------------------------------------------------------


def query_content(limit: int | None = None, reference: str | None = None) -> etree._Element:
    """The payload of a MESSAGE_QUERY: pending replies (at most `limit`), or what is about `reference`."""
    query = etree.Element(f"{{{QUERY_NS}}}MessageQuery", nsmap={None: QUERY_NS})
    if reference is not None:
        etree.SubElement(query, f"{{{QUERY_NS}}}reference").text = reference
    if limit is not None:
        etree.SubElement(query, f"{{{QUERY_NS}}}limit").text = str(limit)
    return query


def ack_content(message_ids: Iterable[str]) -> etree._Element:
    """The payload of a MESSAGE_ACK naming the messages received."""
    ack = etree.Element(f"{{{ACK_NS}}}MessageAck", nsmap={None: ACK_NS})
    for message_id in message_ids:
        etree.SubElement(ack, f"{{{ACK_NS}}}messageId").text = message_id
    return ack
