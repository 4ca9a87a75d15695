"""Composing the gateway's own envelopes: header, one payload, enveloped signature.

Every outbound message is checked against the envelope and payload schemas
before it is signed: a handler that builds an invalid notice is a bug that must
fail its transaction (and be retried, then dead-lettered), never reach a partner.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from lxml import etree

from gateway.envelope import ENVELOPE_NS, ENVELOPE_VERSION, PartyRef, content_element
from gateway.errors import Problem
from gateway.exceptions import InvalidOutboundMessage
from gateway.schemas.registry import SchemaRegistry
from gateway.signing.rotation import Signer, signing_identity
from gateway.signing.sign import serialize, sign_envelope


@dataclass(frozen=True, slots=True)
class Composed:
    message_id: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Subject:
    document_type: str
    function: str
    reference: str | None = None
    pre_reference: str | None = None  # the messageId this one answers


class EnvelopeComposer:
    def __init__(self, gateway: PartyRef, signer: Signer, schemas: SchemaRegistry) -> None:
        self.gateway = gateway
        self.signer = signer
        self.schemas = schemas

    def compose(self, recipient: PartyRef, subject: Subject, content: etree._Element) -> Composed:
        """A signed envelope from the gateway to `recipient` carrying `content` (which is copied, not moved)."""
        message_id = str(uuid.uuid4())
        envelope = etree.Element(_e("Envelope"), nsmap={None: ENVELOPE_NS})
        header = etree.SubElement(envelope, _e("Header"))
        reference = etree.SubElement(header, _e("Reference"))
        _text(reference, "version", ENVELOPE_VERSION)
        _text(reference, "messageId", message_id)
        _party(etree.SubElement(header, _e("From")), self.gateway)
        _party(etree.SubElement(header, _e("To")), recipient)
        subject_element = etree.SubElement(header, _e("Subject"))
        _text(subject_element, "documentType", subject.document_type)
        _text(subject_element, "function", subject.function)
        if subject.reference:
            _text(subject_element, "reference", subject.reference)
        if subject.pre_reference:
            _text(subject_element, "preReference", subject.pre_reference)
        _text(subject_element, "sendDate", timestamp(dt.datetime.now(dt.UTC)))
        body = etree.SubElement(envelope, _e("Body"))
        etree.SubElement(body, _e("Content")).append(_copy(content))
        self._check(envelope, subject.document_type)
        sign_envelope(envelope, signing_identity(self.signer))
        return Composed(message_id, serialize(envelope))

    def check(self, document_type: str, content: etree._Element) -> None:
        """Raise `InvalidOutboundMessage` unless `content` is a valid payload of `document_type`."""
        self._refuse_problems(document_type, self._payload_problems(document_type, content))

    def _check(self, envelope: etree._Element, document_type: str) -> None:
        problems = self.schemas.validate_envelope(envelope)
        problems += self._payload_problems(document_type, content_element(envelope))
        self._refuse_problems(document_type, problems)

    def _payload_problems(self, document_type: str, content: etree._Element | None) -> list[Problem]:
        document = self.schemas.get(document_type)
        if document is None:
            raise InvalidOutboundMessage(f"no schema for outbound document type {document_type}")
        return self.schemas.validate_payload(document, content)

    @staticmethod
    def _refuse_problems(document_type: str, problems: list[Problem]) -> None:
        if problems:
            detail = "; ".join(f"{p.message} at {p.location}" for p in problems[:5])
            raise InvalidOutboundMessage(f"outbound {document_type} is not schema-valid: {detail}")


def timestamp(moment: dt.datetime) -> str:
    """xs:dateTime with its zone, as every gateway-issued document writes it."""
    return moment.isoformat(timespec="seconds")


def _e(local: str) -> str:
    return f"{{{ENVELOPE_NS}}}{local}"


def _text(parent: etree._Element, local: str, value: str) -> None:
    etree.SubElement(parent, _e(local)).text = value


def _party(element: etree._Element, party: PartyRef) -> None:
    _text(element, "name", party.name)
    _text(element, "identity", party.identity)
    _text(element, "countryCode", party.country_code)


def _copy(content: etree._Element) -> etree._Element:
    # A fresh tree, so that the payload's namespace declarations are its own and
    # canonicalisation of the signed envelope does not depend on the builder's document.
    return etree.fromstring(etree.tostring(content))
