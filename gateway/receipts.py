"""Building and signing receipts: the gateway's answer to every inbound message.

An acceptance (function 99, status ACCEPTED) names the message id and the
SHA-256 of the exact bytes received: non-repudiation of receipt. A rejection
(function 22, status REJECTED) lists every problem found, with its stable code,
a message and where it is. Both are envelopes signed with the gateway's key.
The acceptance of a MESSAGE_QUERY carries the messages asked for (`Batch`).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape as xml_escape

from lxml import etree

from gateway.envelope import ENVELOPE_NS, ENVELOPE_VERSION, Header, PartyRef
from gateway.errors import Problem
from gateway.schemas.catalogue import builtin
from gateway.signing.algorithms import SHA256_DIGEST
from gateway.signing.rotation import Signer, signing_identity
from gateway.signing.sign import serialize, sign_envelope

RECEIPT = "RECEIPT"
UNKNOWN_PARTY = PartyRef("UNKNOWN", "Unknown sender", "ZZ")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_IDENTITY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True, slots=True)
class Batch:
    """Messages handed over in the receipt of a query: signed envelopes, oldest first."""

    messages: tuple[bytes, ...]
    remaining: int = 0  # how many more the sender may ask for


@dataclass(frozen=True, slots=True)
class Receipt:
    """A signed receipt and what it says."""

    message_id: str  # the receipt's own message id
    accepted: bool
    body: bytes


class ReceiptBuilder:
    """Builds signed receipts on behalf of the gateway's identity."""

    def __init__(self, gateway: PartyRef, signer: Signer) -> None:
        self.gateway = gateway
        self.signer = signer
        self._from = _party(gateway)
        root = etree.QName(builtin().root(RECEIPT))
        self._receipt = (root.localname, root.namespace)

    def acceptance(self, header: Header, digest: bytes, received_at: dt.datetime, batch: Batch | None = None) -> Receipt:
        return self._build("ACCEPTED", "99", header, header.sender, digest, received_at, (), batch)

    def rejection(
        self,
        header: Header | None,
        sender: PartyRef | None,
        digest: bytes,
        received_at: dt.datetime,
        problems: tuple[Problem, ...],
    ) -> Receipt:
        return self._build("REJECTED", "22", header, sender, digest, received_at, problems)

    def _build(
        self,
        status: str,
        function: str,
        header: Header | None,
        sender: PartyRef | None,
        digest: bytes,
        received_at: dt.datetime,
        problems: tuple[Problem, ...],
        batch: Batch | None = None,
    ) -> Receipt:
        receipt_id = str(uuid.uuid4())
        local, namespace = self._receipt
        original_id = header.message_id if header and _UUID.match(header.message_id) else None
        to = _addressable(sender)
        subject = [f"<documentType>{RECEIPT}</documentType>", f"<function>{function}</function>"]
        if header and header.reference and len(header.reference) <= 64:
            subject.append(f"<reference>{_x(header.reference)}</reference>")
        if original_id:
            subject.append(f"<preReference>{original_id}</preReference>")
        subject.append(f"<sendDate>{_timestamp(dt.datetime.now(dt.UTC))}</sendDate>")
        errors = "".join(
            "<error>"
            f"<code>{problem.code.name}</code><message>{_x(_clip(problem.message, 1024))}</message>"
            + (f"<location>{_x(_clip(problem.location, 512))}</location>" if problem.location else "")
            + "</error>"
            for problem in problems[:1000]
        )
        document = (
            f'<Envelope xmlns="{ENVELOPE_NS}"><Header>'
            f"<Reference><version>{ENVELOPE_VERSION}</version><messageId>{receipt_id}</messageId></Reference>"
            f"<From>{self._from}</From><To>{_party(to)}</To><Subject>{''.join(subject)}</Subject>"
            f'</Header><Body><Content><{local} xmlns="{namespace}">'
            + (f"<receivedMessageId>{original_id}</receivedMessageId>" if original_id else "")
            + f"<status>{status}</status><receivedAt>{_timestamp(received_at)}</receivedAt>"
            f"<digest><algorithm>{SHA256_DIGEST}</algorithm><value>{base64.b64encode(digest).decode('ascii')}</value></digest>"
            + (f"<errors>{errors}</errors>" if errors else "")
            + (_batch(batch) if batch is not None else "")
            + f"</{local}></Content></Body></Envelope>"
        )
        # Built as text (every value escaped) because it is several times faster than
        # element by element; the parser below is ours, and the result is schema-valid.
        root = etree.fromstring(document.encode("utf-8"), _PARSER)
        sign_envelope(root, signing_identity(self.signer))
        return Receipt(receipt_id, status == "ACCEPTED", serialize(root))


def _batch(batch: Batch) -> str:
    # Base64, like the SOAP door: each envelope keeps the exact bytes its signature covers.
    encoded = "".join(f"<message>{base64.b64encode(m).decode('ascii')}</message>" for m in batch.messages)
    return f"<batch><remaining>{batch.remaining}</remaining>{encoded}</batch>"


def _addressable(party: PartyRef | None) -> PartyRef:
    """The sender as the receipt may name it: claims that would break the schema are replaced."""
    if party is None or not _IDENTITY.match(party.identity):
        return UNKNOWN_PARTY
    return PartyRef(
        party.identity,
        _clip(party.name, 255) or party.identity,
        party.country_code if _COUNTRY.match(party.country_code) else "ZZ",
    )


def _party(party: PartyRef) -> str:
    return f"<name>{_x(party.name)}</name><identity>{_x(party.identity)}</identity><countryCode>{_x(party.country_code)}</countryCode>"


def _x(text: str) -> str:
    return xml_escape(text)


def _timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clip(text: str, limit: int) -> str:
    text = "".join(ch for ch in text if ch.isprintable() or ch in "\t\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"
