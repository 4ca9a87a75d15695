"""Exchange with the NSW and the ASEAN partner single windows: forward documents, answer them, relay answers.

`receive` (route "asean"):
- ATIGA_FORM_D, ACDD: the rule of config/partners.toml that matches the document and
  its sender's role says where it goes. On the receiving side (`acknowledge`) the
  document is checked first and the sender gets a signed CUSTOMS_RESPONSE: 21, and
  the document goes on; or 22 with the reasons, and it stops here.
- CUSTOMS_RESPONSE: relayed like any answer (below).

`relay` (route "replies"): an answer (Subject/preReference) to a document this
gateway forwarded goes back to the party that sent the document to us, as an
answer to that party's own message. Receipts are kept, not relayed: they answer
the transport of one hop, not the business; so are a party's pull queries and
acknowledgements, which the intake pipeline has already answered.

Everything goes out through the outbox in the handler's transaction; how it
travels (pull, HTTP or SOAP push) is the recipient's configuration, not ours.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree
from sqlalchemy import select

from customs.context import Context
from customs.notices import PayloadBuilder
from customs.partners import COUNTRIES, TO_DESTINATION, Rule, country
from gateway.inbound import InboundMessage
from gateway.lifecycle import MessageStatus
from gateway.outbound.compose import Subject, timestamp
from gateway.parties import Party
from gateway.store.tables import messages, outbox

RESPONSE = "CUSTOMS_RESPONSE"
ACCEPTED, REJECTED = "21", "22"
RELAYED = frozenset({RESPONSE, "LANE_NOTICE", "RESULT_NOTICE", "RISK_ALERT"})  # answers, not receipts or pulls


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    text: str


def receive(message: InboundMessage, context: Context) -> str:
    header = message.header
    if header.document_type == RESPONSE:
        return relay(message, context)
    sender = context.parties.get(header.sender.identity)
    rule = context.rules.partners.rule_for(header.document_type, sender) if sender else None
    if sender is None or rule is None:
        return f"no exchange rule for {header.document_type} from {header.sender.identity}; kept"
    what = f"{header.document_type} {header.reference or header.message_id} from {sender.identity}"
    if rule.acknowledge:
        reasons = _assess(message, sender, context)
        _respond(message, context, reasons)
        if reasons:
            return f"rejected {what}: {', '.join(r.code for r in reasons)}"
    destination = _destination(rule, message, context)
    if destination is None:
        reason = Reason("NO_PARTNER_FOR_DESTINATION", _no_partner(message))
        _respond(message, context, [reason])
        return f"cannot forward {what}: {reason.text}"
    forwarded = context.emit(
        destination, Subject(header.document_type, header.function, header.reference), message.content
    )
    return f"{'accepted and ' if rule.acknowledge else ''}forwarded {what} to {destination} as {forwarded.message_id}"


def relay(message: InboundMessage, context: Context) -> str:
    """Send an answer to a document we forwarded back to the party that sent us the document."""
    header = message.header
    if header.document_type not in RELAYED or header.pre_reference is None:
        return f"kept {header.document_type} from {header.sender.identity}"
    forwarded = context.tx.execute(
        select(outbox.c.source).where(
            outbox.c.message_id == header.pre_reference, outbox.c.recipient == header.sender.identity
        )
    ).one_or_none()
    if forwarded is None or forwarded.source is None:
        return (
            f"kept {header.document_type} from {header.sender.identity}: "
            f"{header.pre_reference} is not a document we forwarded"
        )
    original = context.tx.execute(
        select(messages.c.sender, messages.c.message_id, messages.c.reference).where(messages.c.id == forwarded.source)
    ).one()
    content = copy.deepcopy(message.content)
    if header.document_type == RESPONSE:  # it answers our forward: make it answer the original instead
        content.find("r:respondsTo/r:messageId", {"r": etree.QName(content).namespace}).text = original.message_id
    subject = Subject(header.document_type, header.function, original.reference, pre_reference=original.message_id)
    relayed = context.emit(original.sender, subject, content)
    return (
        f"relayed {header.document_type}/{header.function} from {header.sender.identity} "
        f"to {original.sender} as {relayed.message_id}"
    )


# --- the receiving side's checks ------------------------------------------------------------


def _assess(message: InboundMessage, sender: Party, context: Context) -> list[Reason]:
    """Why this single window refuses the document, if it does."""
    header, reasons = message.header, []
    countries = COUNTRIES.get(header.document_type)
    if countries is not None:
        ours = context.gateway.country_code
        destination = country(message.content, countries.destination)
        if destination != ours:
            reasons.append(
                Reason("NOT_FOR_THIS_COUNTRY", f"The document is for {destination}; this single window is {ours}'s.")
            )
        origin = country(message.content, countries.origin)
        if origin != sender.country:
            reasons.append(
                Reason(
                    "ORIGIN_NOT_PARTNER",
                    f"The document was issued in {origin}, not by the sending single window ({sender.country}).",
                )
            )
    if header.function == "01" and header.reference and _reference_taken(message, context):
        reasons.append(
            Reason(
                "DUPLICATE_REFERENCE",
                f"{header.document_type} {header.reference} was already received from {sender.identity}.",
            )
        )
    return reasons


def _reference_taken(message: InboundMessage, context: Context) -> bool:
    header = message.header
    query = select(messages.c.id).where(
        messages.c.sender == header.sender.identity,
        messages.c.document_type == header.document_type,
        messages.c.reference == header.reference,
        messages.c.function == "01",
        messages.c.status == MessageStatus.PROCESSED.value,
        messages.c.id != message.stored.pk,
    )
    return context.tx.execute(query.limit(1)).first() is not None


def _destination(rule: Rule, message: InboundMessage, context: Context) -> str | None:
    if rule.to != TO_DESTINATION:
        return rule.to
    wanted = country(message.content, COUNTRIES[message.header.document_type].destination)
    partners = sorted(
        p.identity
        for p in context.parties.all()
        if "asw_partner" in p.roles and p.active and p.country == wanted
    )
    return partners[0] if partners else None


def _no_partner(message: InboundMessage) -> str:
    wanted = country(message.content, COUNTRIES[message.header.document_type].destination)
    return f"No ASEAN partner single window is registered for the destination country {wanted}."


# --- the answer ------------------------------------------------------------------------------


def _respond(message: InboundMessage, context: Context, reasons: Sequence[Reason]) -> None:
    """A signed CUSTOMS_RESPONSE to the sender: 21 without reasons, 22 with them."""
    header = message.header
    context.emit(
        header.sender.identity,
        Subject(RESPONSE, REJECTED if reasons else ACCEPTED, header.reference, pre_reference=header.message_id),
        response_content(header.document_type, header.message_id, header.reference, timestamp(context.now), reasons),
    )


def response_content(
    document_type: str, message_id: str, reference: str | None, decided_at: str, reasons: Sequence[Reason]
) -> etree._Element:
    builder = PayloadBuilder(RESPONSE)
    responds_to = builder.add(None, "respondsTo")
    builder.add(responds_to, "documentType", document_type)
    builder.add(responds_to, "messageId", message_id)
    if reference:
        builder.add(responds_to, "reference", reference[:50])
    builder.add(None, "decidedAt", decided_at)
    if reasons:
        listed = builder.add(None, "reasons")
        for reason in reasons:
            builder.reason(listed, reason.code, reason.text)
    return builder.root
