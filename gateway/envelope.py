"""The gateway envelope: its namespace, its header, and reading the header from a tree.

The envelope is modelled on the Vietnam National Single Window envelope (see
DESIGN.md). Reading the header is deliberately lenient about everything the
envelope schema checks later, and strict about what routing needs now.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from gateway.errors import ErrorCode
from gateway.exceptions import Rejected
from gateway.locations import describe, locate
from gateway.namespaces import ENVELOPE_NS

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
ENVELOPE_VERSION = "1.0"

FUNCTION_NAMES: dict[str, str] = {
    "01": "declare",
    "02": "amend",
    "03": "cancel",
    "04": "re-issue request",
    "05": "supplementary documents",
    "11": "query",
    "21": "accepted",
    "22": "rejected",
    "23": "completed",
    "24": "cancellation confirmed",
    "26": "decision",
    "29": "more documents needed",
    "99": "received",
}


def qname(local: str) -> str:
    """The Clark name of an envelope element."""
    return f"{{{ENVELOPE_NS}}}{local}"


@dataclass(frozen=True, slots=True)
class PartyRef:
    """A party as named in From or To."""

    identity: str
    name: str
    country_code: str


@dataclass(frozen=True, slots=True)
class Header:
    """The routing-relevant fields of an envelope header."""

    version: str
    message_id: str
    sender: PartyRef
    recipient: PartyRef
    document_type: str
    function: str
    type: str | None = None
    reference: str | None = None
    pre_reference: str | None = None
    send_date: str | None = None


def read_header(root: etree._Element) -> Header:
    """Read the header of a parsed envelope, or raise `Rejected` with ENVELOPE_INVALID."""
    if root.tag != qname("Envelope"):
        raise Rejected.of(
            ErrorCode.ENVELOPE_INVALID,
            f"the root element is {root.tag!r}, expected {{{ENVELOPE_NS}}}Envelope",
            describe(root),
        )
    header = _child(root, "Header")
    reference = _child(header, "Reference")
    subject = _child(header, "Subject")
    return Header(
        version=_text(reference, "version"),
        message_id=_text(reference, "messageId"),
        sender=_party(_child(header, "From")),
        recipient=_party(_child(header, "To")),
        document_type=_text(subject, "documentType"),
        function=_text(subject, "function"),
        type=_optional_text(subject, "type"),
        reference=_optional_text(subject, "reference"),
        pre_reference=_optional_text(subject, "preReference"),
        send_date=_optional_text(subject, "sendDate"),
    )


def claimed_sender(root: etree._Element | None) -> PartyRef | None:
    """Who an envelope whose header could not be read as a whole claims to be from, if anyone."""
    if root is None or root.tag != qname("Envelope"):
        return None
    sender = root.find(f"{qname('Header')}/{qname('From')}")
    try:
        return _party(sender) if sender is not None else None
    except Rejected:
        return None


_CONTENT_CHILDREN = etree.XPath("./e:Body/e:Content/*", namespaces={"e": ENVELOPE_NS})  # compiled once


def content_element(root: etree._Element) -> etree._Element | None:
    """The payload element inside Body/Content, or None when there is not exactly one."""
    children = _CONTENT_CHILDREN(root)
    return children[0] if len(children) == 1 else None  # type: ignore[index,arg-type]


def _party(element: etree._Element) -> PartyRef:
    return PartyRef(
        identity=_text(element, "identity"),
        name=_optional_text(element, "name") or "",
        country_code=_optional_text(element, "countryCode") or "",
    )


def _child(parent: etree._Element, local: str) -> etree._Element:
    found = parent.find(qname(local))
    if found is None:
        raise Rejected.of(ErrorCode.ENVELOPE_INVALID, f"{etree.QName(parent).localname}/{local} is missing", locate(parent, local))
    return found


def _text(parent: etree._Element, local: str) -> str:
    value = _optional_text(parent, local)
    if not value:
        raise Rejected.of(
            ErrorCode.ENVELOPE_INVALID, f"{etree.QName(parent).localname}/{local} is missing or empty", locate(parent, local)
        )
    return value


def _optional_text(parent: etree._Element, local: str) -> str | None:
    found = parent.find(qname(local))
    if found is None:
        return None
    # The string value (all text, comments skipped), not .text: a comment inside a field
    # splits .text, and comments are not covered by exclusive canonicalisation.
    return "".join(found.itertext()).strip() or None
