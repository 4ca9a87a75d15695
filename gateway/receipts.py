"""Building and signing receipts: the gateway's answer to every inbound message.

An acceptance (function 99, status ACCEPTED) names the message id and the
SHA-256 of the exact bytes received: non-repudiation of receipt. A rejection
(function 22, status REJECTED) lists every problem found, with its stable code,
a message and where it is. Both are envelopes signed with the gateway's key.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from dataclasses import dataclass

from lxml import etree

from gateway.envelope import ENVELOPE_NS, ENVELOPE_VERSION, Header, PartyRef
from gateway.errors import Problem
from gateway.signing.algorithms import SHA256_DIGEST
from gateway.signing.keys import SigningIdentity
from gateway.signing.sign import serialize, sign_envelope

RECEIPT_NS = "urn:customs.gov.vn:ecom:receipt:1"
UNKNOWN_PARTY = PartyRef("UNKNOWN", "Unknown sender", "ZZ")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_IDENTITY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True, slots=True)
class Receipt:
    """A signed receipt and what it says."""

    message_id: str  # the receipt's own message id
    accepted: bool
    body: bytes


class ReceiptBuilder:
    """Builds signed receipts on behalf of the gateway's identity."""

    def __init__(self, gateway: PartyRef, signer: SigningIdentity) -> None:
        self.gateway = gateway
        self.signer = signer

    def acceptance(self, header: Header, digest: bytes, received_at: dt.datetime) -> Receipt:
        return self._build("ACCEPTED", "99", header, header.sender, digest, received_at, ())

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
    ) -> Receipt:
        receipt_id = str(uuid.uuid4())
        original_id = header.message_id if header and _UUID.match(header.message_id) else None
        root = etree.Element(_e("Envelope"), nsmap={None: ENVELOPE_NS})
        head = _sub(root, "Header")
        reference = _sub(head, "Reference")
        _sub(reference, "version", ENVELOPE_VERSION)
        _sub(reference, "messageId", receipt_id)
        _party(_sub(head, "From"), self.gateway)
        _party(_sub(head, "To"), _addressable(sender))
        subject = _sub(head, "Subject")
        _sub(subject, "documentType", "RECEIPT")
        _sub(subject, "function", function)
        if header and header.reference and len(header.reference) <= 64:
            _sub(subject, "reference", header.reference)
        if original_id:
            _sub(subject, "preReference", original_id)
        _sub(subject, "sendDate", _timestamp(dt.datetime.now(dt.timezone.utc)))

        receipt = etree.SubElement(_sub(_sub(root, "Body"), "Content"), f"{{{RECEIPT_NS}}}Receipt", nsmap={None: RECEIPT_NS})
        if original_id:
            _rc(receipt, "receivedMessageId", original_id)
        _rc(receipt, "status", status)
        _rc(receipt, "receivedAt", _timestamp(received_at))
        digest_element = _rc(receipt, "digest")
        _rc(digest_element, "algorithm", SHA256_DIGEST)
        _rc(digest_element, "value", base64.b64encode(digest).decode("ascii"))
        if problems:
            errors = _rc(receipt, "errors")
            for problem in problems[:1000]:
                error = _rc(errors, "error")
                _rc(error, "code", problem.code.name)
                _rc(error, "message", _clip(problem.message, 1024))
                if problem.location:
                    _rc(error, "location", _clip(problem.location, 512))
        sign_envelope(root, self.signer)
        return Receipt(receipt_id, status == "ACCEPTED", serialize(root))


def _addressable(party: PartyRef | None) -> PartyRef:
    """The sender as the receipt may name it: claims that would break the schema are replaced."""
    if party is None or not _IDENTITY.match(party.identity):
        return UNKNOWN_PARTY
    return PartyRef(
        party.identity,
        _clip(party.name, 255) or party.identity,
        party.country_code if _COUNTRY.match(party.country_code) else "ZZ",
    )


def _party(element: etree._Element, party: PartyRef) -> None:
    _sub(element, "name", party.name)
    _sub(element, "identity", party.identity)
    _sub(element, "countryCode", party.country_code)


def _e(local: str) -> str:
    return f"{{{ENVELOPE_NS}}}{local}"


def _sub(parent: etree._Element, local: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _e(local))
    element.text = text
    return element


def _rc(parent: etree._Element, local: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{RECEIPT_NS}}}{local}")
    element.text = text
    return element


def _timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clip(text: str, limit: int) -> str:
    text = "".join(ch for ch in text if ch.isprintable() or ch in "\t\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"
