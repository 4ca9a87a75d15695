"""The gateway's error catalogue and its exceptions.

Every code here is part of the public interface: it appears in signed rejection
receipts, in the README and in conformance expectations. Add codes freely, never
rename or reuse one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorCode(enum.Enum):
    """A stable rejection code and the HTTP status it maps to."""

    def __init__(self, status: int, summary: str) -> None:
        self.status = status
        self.summary = summary

    # Transport (the door)
    REQUEST_EMPTY = (400, "the request has no body")
    REQUEST_TOO_LARGE = (413, "the body is larger than the configured limit")
    REQUEST_TIMEOUT = (408, "the body did not arrive within the time allowed")
    CONTENT_TYPE_UNSUPPORTED = (415, "the content type is not accepted by this door")
    # XML
    XML_MALFORMED = (400, "the body is not well-formed XML")
    XML_ENCODING = (400, "the body is not UTF-8 encoded XML")
    XML_DTD_FORBIDDEN = (400, "a document type declaration (DTD) is not allowed")
    XML_FORBIDDEN_CONSTRUCT = (400, "processing instructions and entity references are not allowed")
    XML_LIMIT_EXCEEDED = (400, "the document is nested too deeply or has too large a node")
    XML_ELEMENTS_LIMIT = (400, "the document has more elements than allowed")
    XML_ATTRIBUTES_LIMIT = (400, "an element has more attributes than allowed")
    XML_NAMESPACES_LIMIT = (400, "an element declares more namespaces than allowed")
    XML_NAMESPACES_IN_SCOPE_LIMIT = (400, "an element has more namespaces in scope than allowed")
    # Envelope
    ENVELOPE_INVALID = (400, "the document is not a gateway envelope")
    DOCUMENT_TYPE_UNKNOWN = (422, "the document type is not in the catalogue")
    FUNCTION_NOT_ALLOWED = (422, "the function code is not allowed for this document type")
    RECIPIENT_UNKNOWN = (422, "the message is not addressed to this gateway")
    SEND_DATE_OUT_OF_WINDOW = (422, "the sendDate is too far from the time the gateway received the message")
    # Signature and trust
    SIGNATURE_MISSING = (403, "the envelope is not signed")
    SIGNATURE_MULTIPLE = (403, "the document carries more than one signature")
    SIGNATURE_MISPLACED = (403, "the signature is not a direct child of the envelope")
    SIGNATURE_PROFILE = (403, "the signature does not follow the gateway's signature profile")
    SIGNATURE_ALGORITHM = (403, "a signature, digest or canonicalisation algorithm is not allowed")
    SIGNATURE_DIGEST_MISMATCH = (403, "the signed content was changed after signing")
    SIGNATURE_INVALID = (403, "the signature value does not verify")
    KEY_TOO_WEAK = (403, "the signing key is weaker than allowed")
    CERTIFICATE_MISSING = (403, "the signature does not carry an X.509 certificate")
    CERTIFICATE_INVALID = (403, "the certificate cannot be read")
    CERTIFICATE_TOO_LARGE = (403, "a certificate in KeyInfo is larger than allowed")
    CERTIFICATE_UNTRUSTED = (403, "the certificate does not chain to a trust anchor")
    CERTIFICATE_EXPIRED = (403, "the certificate is not valid at this time")
    CERTIFICATE_REVOKED = (403, "the certificate (or a CA certificate on its path) is revoked")
    CERTIFICATE_STATUS_UNKNOWN = (403, "the certificate's revocation status cannot be had and its CA's policy is hard")
    CERTIFICATE_CHAIN_WEAK = (403, "a certificate on the path to the trust anchor has a weak key or signature algorithm")
    CERTIFICATE_NOT_REGISTERED = (403, "the certificate is not registered to the sending party")
    PARTY_UNKNOWN = (403, "the sending party is not registered")
    PARTY_SUSPENDED = (403, "the sending party is suspended")
    # Authorisation
    ROLE_NOT_PERMITTED = (403, "the sender's roles do not allow this document type")
    NOT_ENTITLED = (403, "the sender is not the party in charge of what the document concerns")
    READ_NOT_PERMITTED = (403, "the sender may not read the messages it asked for")
    OPERATION_MISMATCH = (422, "this operation of the door does not take this document type")
    # Schema
    ENVELOPE_SCHEMA_INVALID = (422, "the envelope does not conform to its schema")
    PAYLOAD_SCHEMA_INVALID = (422, "the payload does not conform to its document schema")
    PAYLOAD_VALUE_UNSUPPORTED = (422, "a value the document schema allows is outside what the gateway processes")
    # Record
    DUPLICATE_CONFLICT = (409, "this message id was already used for different content")
    DUPLICATE_PURGED = (409, "this message was received and processed before, and has since been archived and purged")
    # Availability
    STORE_UNAVAILABLE = (503, "the message store is unavailable; send again later")
    INTERNAL_ERROR = (500, "the gateway failed to process the message; send again later")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a message: a stable code, a message, and where it is."""

    code: ErrorCode
    message: str
    location: str | None = None
