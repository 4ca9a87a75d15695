"""Pulling: a MESSAGE_QUERY is answered with messages, a MESSAGE_ACK marks pulled messages delivered.

Both come in through any door and through the whole intake pipeline (verified,
authorised, validated, recorded) like every other message; `register` plugs them
into the pipeline's `answer` and `recorded` stages. Only the recipient can pull
its messages: the query's verified sender is the recipient asked for.

A query by reference asks what the sender may read about a declaration, an order
or a message: who may read what is the business's to say, so the composition
root passes a `ReferenceReader`; without one such queries are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING

import structlog
from lxml import etree
from sqlalchemy import Connection

from gateway.behaviours import Behaviours
from gateway.envelope import content_element
from gateway.errors import ErrorCode
from gateway.exceptions import ReadRefused, Rejected
from gateway.locations import locate
from gateway.parties import Party
from gateway.receipts import Batch
from gateway.schemas.catalogue import builtin

if TYPE_CHECKING:
    from gateway.pipeline import Intake
    from gateway.services import Services

log = structlog.get_logger(__name__)
ACTOR = "pull"  # in the outbound messages' history

ReferenceReader = Callable[[Connection, Party, str], list[bytes]]
"""The signed messages `party` may read about a reference; raises ReadRefused when it may not."""

MESSAGE_QUERY = "MESSAGE_QUERY"
MESSAGE_ACK = "MESSAGE_ACK"


def register(behaviours: Behaviours, read_reference: ReferenceReader | None = None) -> None:
    """Plug answering queries and taking acknowledgements into the intake pipeline."""
    behaviours.register(MESSAGE_QUERY, answer=partial(answer, read_reference=read_reference))
    behaviours.register(MESSAGE_ACK, recorded=acknowledge)


def answer(intake: Intake, services: Services, read_reference: ReferenceReader | None) -> Batch:
    """What the query asks for: the reader's undelivered messages, or what it may read about a reference."""
    assert intake.root is not None and intake.party is not None
    query = content_element(intake.root)
    assert query is not None  # the payload was validated
    delivery = services.settings.delivery
    ns = {"q": etree.QName(query).namespace}
    asked = query.findtext("q:limit", namespaces=ns)
    limit = min(int(asked), delivery.batch_size) if asked else delivery.batch_size
    reference = query.findtext("q:reference", namespaces=ns)
    if reference is None:
        return services.outbox.batch_for(intake.party.identity, limit, delivery.batch_bytes)
    where = locate(query, "reference")
    if read_reference is None:
        raise Rejected.of(ErrorCode.READ_NOT_PERMITTED, "this gateway answers no queries by reference", where)
    try:
        with services.engine.connect() as connection:
            bodies = read_reference(connection, intake.party, reference.strip())
    except ReadRefused as refused:
        raise Rejected.of(ErrorCode.READ_NOT_PERMITTED, refused.reason, where) from None
    return Batch(tuple(bodies[:limit]), max(0, len(bodies) - limit))


def acknowledge(intake: Intake, services: Services) -> None:
    """Mark delivered the sender's messages the acknowledgement names; the signed acknowledgement is the proof."""
    assert intake.root is not None and intake.party is not None and intake.header is not None
    ack = content_element(intake.root)
    assert ack is not None  # the payload was validated
    ns = {"a": etree.QName(ack).namespace}
    message_ids = [element.text.strip() for element in ack.iterfind("a:messageId", ns) if element.text]
    count = services.outbox.acknowledge(
        intake.party.identity, message_ids, intake.body, intake.received_at, ACTOR,
        f"acknowledged by {intake.header.document_type} {intake.header.message_id}",
    )
    log.info("pulled messages acknowledged", sender=intake.party.identity, message_id=intake.header.message_id, delivered=count)


# --- the party's side ---------------------------------------------------------------


def query_content(limit: int | None = None, reference: str | None = None) -> etree._Element:
    """The payload of a MESSAGE_QUERY: pending replies (at most `limit`), or what is about `reference`."""
    namespace = builtin().namespace(MESSAGE_QUERY)
    query = etree.Element(builtin().root(MESSAGE_QUERY), nsmap={None: namespace})
    if reference is not None:
        etree.SubElement(query, f"{{{namespace}}}reference").text = reference
    if limit is not None:
        etree.SubElement(query, f"{{{namespace}}}limit").text = str(limit)
    return query


def ack_content(message_ids: Iterable[str]) -> etree._Element:
    """The payload of a MESSAGE_ACK naming the messages received."""
    namespace = builtin().namespace(MESSAGE_ACK)
    ack = etree.Element(builtin().root(MESSAGE_ACK), nsmap={None: namespace})
    for message_id in message_ids:
        etree.SubElement(ack, f"{{{namespace}}}messageId").text = message_id
    return ack
