"""The SOAP door: SOAP 1.1 and 1.2, document/literal wrapped, two operations.

    Submit{message}  any signed envelope; SubmitResponse{accepted, receipt, errorCode*}
    Pull{query}      a signed MESSAGE_QUERY; PullResponse{accepted, receipt, errorCode*}, where the
                     receipt carries the messages asked for (gateway/outbound/pull.py)

The signed envelope travels base64-encoded in `Submit/message`, so its bytes
reach the pipeline exactly as signed whatever the client's XML stack does to
the SOAP envelope around it. The answer carries the pipeline's signed receipt
(or signed rejection) the same way.

SOAP faults are kept for problems of the SOAP layer itself: the request could
not be read as a SOAP call. Anything wrong with the *message* is the pipeline's
business and comes back as a normal `SubmitResponse` with accepted=false and the
signed rejection, so that every door reports message errors the same way. The
one exception is an outcome of 500/503 (the gateway could not take the message):
that is a Receiver fault, so SOAP clients treat it as retryable, and its detail
still carries the signed receipt.
"""

from __future__ import annotations

import base64
import copy
import functools
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value
from pathlib import Path

import structlog
from lxml import etree

from gateway import xmlsafe
from gateway.exceptions import Rejected, SoapFault
from gateway.pipeline import Outcome, Pipeline, Transport

log = structlog.get_logger(__name__)

TNS = "urn:customs.gov.vn:ecom:gateway:soap:1"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
WSDL_PATH = Path(__file__).with_name("gateway.wsdl")
_WSDL_ADDRESSES = (
    "{http://schemas.xmlsoap.org/wsdl/soap/}address",
    "{http://schemas.xmlsoap.org/wsdl/soap12/}address",
)
# Characters XML 1.0 cannot carry; replaced in fault texts so building the fault never fails.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the service: its element, the part carrying the envelope, what it takes."""

    name: str
    part: str
    only: frozenset[str] | None = None  # the document types it takes (None: any)

    @property
    def action(self) -> str:
        return f"{TNS}#{self.name}"


SUBMIT = Operation("Submit", "message")
PULL = Operation("Pull", "query", frozenset({"MESSAGE_QUERY"}))
_OPERATIONS = {f"{{{TNS}}}{operation.name}": operation for operation in (SUBMIT, PULL)}
SUBMIT_ACTION = SUBMIT.action


@dataclass(frozen=True)
class SoapResponse:
    """What the HTTP app sends back: status, Content-Type header and body."""

    status: int  # HTTP status
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class SoapVersion:
    """What differs between SOAP 1.1 and 1.2 as far as this door is concerned."""

    name: str
    ns: str  # envelope namespace
    prefix: str
    content_type: str
    role_attribute: str  # "actor" (1.1) or "role" (1.2)
    our_roles: frozenset[str]  # header blocks aimed at these roles (or at none) are for us
    fault_codes: dict[str, str]  # generic fault code -> this version's local name

    def q(self, local: str) -> str:
        return f"{{{self.ns}}}{local}"


SOAP11 = SoapVersion(
    name="1.1",
    ns="http://schemas.xmlsoap.org/soap/envelope/",
    prefix="soapenv",
    content_type="text/xml; charset=utf-8",
    role_attribute="actor",
    our_roles=frozenset({"http://schemas.xmlsoap.org/soap/actor/next"}),
    fault_codes={"Sender": "Client", "Receiver": "Server"},
)
SOAP12 = SoapVersion(
    name="1.2",
    ns="http://www.w3.org/2003/05/soap-envelope",
    prefix="env",
    content_type="application/soap+xml; charset=utf-8",
    role_attribute="role",
    our_roles=frozenset(
        {
            "http://www.w3.org/2003/05/soap-envelope/role/next",
            "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver",
        }
    ),
    fault_codes={},
)
_MEDIA_TYPES = {"text/xml": SOAP11, "application/soap+xml": SOAP12}


def _sender(error_code: str, reason: str) -> SoapFault:
    return SoapFault("Sender", (error_code,), reason)


# --- the door -----------------------------------------------------------------


def handle_soap(
    pipeline: Pipeline,
    body: bytes,
    content_type: str | None,
    soap_action: str | None,
    correlation_id: str | None,
    peer: str | None,
) -> SoapResponse:
    """Answer one SOAP request: the operation's response (HTTP 200) or a SOAP fault."""
    detected = _detect_version(content_type, soap_action)
    if detected is None:
        fault = _sender(
            "CONTENT_TYPE_UNSUPPORTED",
            f"content type {content_type!r} is not SOAP; use text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)",
        )
        return _fault_response(SOAP11, fault, correlation_id, peer, status=415)
    version, action = detected
    try:
        operation, message = _read_call(body, version, action)
    except SoapFault as fault:
        return _fault_response(version, fault, correlation_id, peer)

    outcome = pipeline.submit(message, Transport("soap", correlation_id, peer, operation.only))
    return _answer(version, operation, outcome, correlation_id, peer)


def outcome_response(outcome: Outcome, content_type: str | None) -> SoapResponse:
    """The SOAP answer for an outcome the HTTP app got without calling `handle_soap`.

    For example the signed refusal (`Pipeline.refuse`) of a body over the size limit: it goes
    back as a SubmitResponse with accepted=false, in the SOAP version the request announced.
    """
    detected = _detect_version(content_type, None)
    return _answer(detected[0] if detected else SOAP11, SUBMIT, outcome, None, None)


def _answer(
    version: SoapVersion, operation: Operation, outcome: Outcome, correlation_id: str | None, peer: str | None
) -> SoapResponse:
    if outcome.status >= 500:
        fault = SoapFault("Receiver", outcome.codes, _unavailable_reason(outcome), receipt=outcome.receipt)
        return _fault_response(version, fault, correlation_id, peer, status=outcome.status)
    return SoapResponse(200, version.content_type, _serialise(_response(version, operation, outcome)))


def wsdl(service_url: str) -> bytes:
    """The WSDL, with both ports' addresses set to `service_url`."""
    document = copy.deepcopy(_wsdl_template())
    for address in document.iter(*_WSDL_ADDRESSES):
        address.set("location", service_url)
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8")


@functools.cache
def _wsdl_template() -> etree._ElementTree:
    # A trusted file shipped with the package, not request bytes.
    return etree.parse(str(WSDL_PATH))


# --- reading the request -----------------------------------------------------------


def _detect_version(content_type: str | None, soap_action: str | None) -> tuple[SoapVersion, str | None] | None:
    """The SOAP version and the action the client asked for (None or "" when it named none)."""
    if not content_type:
        return None
    header = Message()
    header["content-type"] = content_type
    version = _MEDIA_TYPES.get(header.get_content_type())
    if version is None:
        return None
    if version is SOAP12:
        action = header.get_param("action")
        return version, collapse_rfc2231_value(action) if action else None
    return version, soap_action.strip().strip('"') if soap_action is not None else None


def _read_call(body: bytes, version: SoapVersion, action: str | None) -> tuple[Operation, bytes]:
    """The operation called and the bytes it carries, or a SoapFault saying why the request is not a valid call."""
    try:
        root = xmlsafe.parse(body, large_text=True)  # Submit/message is a whole message in base64
    except Rejected as rejection:
        problem = rejection.problems[0]
        raise _sender(problem.code.name, problem.message) from None

    name = etree.QName(root)
    if name.localname == "Envelope" and name.namespace != version.ns:
        raise SoapFault(
            "VersionMismatch",
            ("SOAP_VERSION_MISMATCH",),
            f"the envelope namespace {name.namespace!r} is not that of SOAP {version.name} ({version.ns}),"
            f" which the content type announces",
        )
    if root.tag != version.q("Envelope"):
        raise _sender("SOAP_INVALID", "the document is not a SOAP envelope")

    children = _elements(root)
    header = children.pop(0) if children and children[0].tag == version.q("Header") else None
    if len(children) != 1 or children[0].tag != version.q("Body"):
        raise _sender("SOAP_INVALID", "the envelope must hold an optional Header followed by exactly one Body")
    if header is not None:
        _check_header(header, version)

    operations = _elements(children[0])
    if len(operations) != 1:
        raise _sender("SOAP_INVALID", "the Body must hold exactly one element")
    call = operations[0]
    operation = _OPERATIONS.get(call.tag)
    if operation is None or (action and action != operation.action):
        asked = f"action {action!r}" if operation is not None else f"element {call.tag}"
        offered = " and ".join(_OPERATIONS)
        raise _sender("SOAP_OPERATION_UNKNOWN", f"unknown operation ({asked}); this service offers {offered}")

    parts = _elements(call)
    if len(parts) != 1 or parts[0].tag != f"{{{TNS}}}{operation.part}" or len(parts[0]):
        raise _sender(
            "SOAP_MESSAGE_INVALID", f"{operation.name} must hold exactly one {{{TNS}}}{operation.part} with base64 text"
        )
    try:
        return operation, base64.b64decode("".join((parts[0].text or "").split()), validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        raise _sender("SOAP_MESSAGE_INVALID", f"the {operation.part} element is not valid base64") from None


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def _check_header(header: etree._Element, version: SoapVersion) -> None:
    """Fault on any header block aimed at us that must be understood: we understand none."""
    not_understood = []
    for block in _elements(header):
        role = block.get(version.q(version.role_attribute))
        if role is not None and role not in version.our_roles:
            continue
        flag = block.get(version.q("mustUnderstand"))
        value = flag.strip() if flag is not None else "0"
        if value not in ("0", "1", "true", "false"):
            raise _sender("SOAP_INVALID", f"mustUnderstand={flag!r} on {block.tag} is not a boolean")
        if value in ("1", "true"):
            not_understood.append(etree.QName(block))
    if not_understood:
        raise SoapFault(
            "MustUnderstand",
            ("SOAP_MUST_UNDERSTAND",),
            "header blocks not understood: " + ", ".join(q.text for q in not_understood),
            not_understood=tuple(not_understood),
        )


# --- building the response -----------------------------------------------------------


def _envelope(version: SoapVersion) -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(version.q("Envelope"), nsmap={version.prefix: version.ns, "gw": TNS})
    return envelope, etree.SubElement(envelope, version.q("Body"))


def _response(version: SoapVersion, operation: Operation, outcome: Outcome) -> etree._Element:
    envelope, body = _envelope(version)
    response = etree.SubElement(body, f"{{{TNS}}}{operation.name}Response")
    etree.SubElement(response, f"{{{TNS}}}accepted").text = "true" if outcome.accepted else "false"
    etree.SubElement(response, f"{{{TNS}}}receipt").text = base64.b64encode(outcome.receipt).decode("ascii")
    for code in outcome.codes:
        etree.SubElement(response, f"{{{TNS}}}errorCode").text = code
    return envelope


def _fault_response(
    version: SoapVersion, fault: SoapFault, correlation_id: str | None, peer: str | None, status: int | None = None
) -> SoapResponse:
    log.info(
        "soap fault",
        soap_version=version.name,
        fault=fault.code,
        codes=list(fault.error_codes),
        correlation_id=correlation_id,
        peer=peer,
    )
    if status is None:
        # SOAP 1.1 answers every fault with 500; the SOAP 1.2 HTTP binding uses 400 for Sender faults only.
        status = 400 if version is SOAP12 and fault.code == "Sender" else 500
    return SoapResponse(status, version.content_type, _serialise(_fault(version, fault)))


def _fault(version: SoapVersion, fault: SoapFault) -> etree._Element:
    envelope, body = _envelope(version)
    element = etree.SubElement(body, version.q("Fault"))
    code = f"{version.prefix}:{version.fault_codes.get(fault.code, fault.code)}"
    reason = _NOT_XML_CHAR.sub("\ufffd", fault.reason)
    if version is SOAP11:
        etree.SubElement(element, "faultcode").text = code
        etree.SubElement(element, "faultstring").text = reason
        detail = etree.SubElement(element, "detail")
    else:
        etree.SubElement(etree.SubElement(element, version.q("Code")), version.q("Value")).text = code
        text = etree.SubElement(etree.SubElement(element, version.q("Reason")), version.q("Text"))
        text.set(_XML_LANG, "en")
        text.text = reason
        detail = etree.SubElement(element, version.q("Detail"))
        if fault.not_understood:
            header = etree.Element(version.q("Header"))
            envelope.insert(0, header)
            for name in fault.not_understood:
                # The qname attribute's prefix is declared on the element itself.
                nsmap = {"nu": name.namespace} if name.namespace else None
                notice = etree.SubElement(header, version.q("NotUnderstood"), nsmap=nsmap)
                notice.set("qname", f"nu:{name.localname}" if name.namespace else name.localname)
    for error_code in fault.error_codes:
        etree.SubElement(detail, f"{{{TNS}}}errorCode").text = error_code
    if fault.receipt is not None:
        etree.SubElement(detail, f"{{{TNS}}}receipt").text = base64.b64encode(fault.receipt).decode("ascii")
    return envelope


def _unavailable_reason(outcome: Outcome) -> str:
    if outcome.status == 503:
        return "the gateway cannot take the message now; send it again later (the signed receipt is in the detail)"
    return "the gateway failed to process the message; send it again later (the signed receipt is in the detail)"


def _serialise(envelope: etree._Element) -> bytes:
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
