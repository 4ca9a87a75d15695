"""The client side: preparing and signing envelopes, submitting them, and checking receipts.

Used by `gateway sign`, `gateway submit`, the demo and the benchmark; a partner
can use it as a reference client.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
from lxml import etree

from gateway import xmlsafe
from gateway.envelope import DSIG_NS, content_element, qname, read_header
from gateway.exceptions import ReceiptError, Rejected
from gateway.receipts import RECEIPT
from gateway.schemas.catalogue import builtin
from gateway.signing.keys import SigningIdentity, der_of, load_certificates
from gateway.signing.sign import serialize, sign_envelope
from gateway.signing.trust import TrustStore
from gateway.signing.verify import verify_envelope


def load_envelope(path: Path) -> etree._Element:
    """Read one of our own envelope files (samples, prepared messages) with the hardened parser."""
    return xmlsafe.parse(path.read_bytes())


def refresh(root: etree._Element, message_id: str | None = None, now: dt.datetime | None = None) -> etree._Element:
    """Give an unsigned envelope a new messageId and sendDate (so it can be sent again as new)."""
    header = root.find(qname("Header"))
    if header is None:
        raise ValueError("not an envelope: no Header")
    header.find(f"{qname('Reference')}/{qname('messageId')}").text = message_id or str(uuid.uuid4())
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.timezone(dt.timedelta(hours=7)))
    header.find(f"{qname('Subject')}/{qname('sendDate')}").text = moment.isoformat(timespec="seconds")
    return root


def is_signed(root: etree._Element) -> bool:
    return root.find(f"{{{DSIG_NS}}}Signature") is not None


def sign(root: etree._Element, identity: SigningIdentity) -> bytes:
    return serialize(sign_envelope(root, identity))


@dataclass(frozen=True)
class ReceiptView:
    """What a receipt says, after its signature was checked."""

    status: str  # ACCEPTED, DUPLICATE or REJECTED
    function: str
    received_message_id: str | None
    digest: str
    errors: tuple[tuple[str, str, str | None], ...]  # (code, message, location)
    signer: str  # From/identity of the receipt
    raw: bytes
    batch: tuple[bytes, ...] = ()  # the receipt of a MESSAGE_QUERY: the messages asked for, oldest first
    remaining: int = 0  # and how many more are pending

    @property
    def accepted(self) -> bool:
        return self.status != "REJECTED"

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(code for code, _, _ in self.errors)


def read_receipt(
    data: bytes, trust: TrustStore | None, gateway_certificate_der: bytes | frozenset[bytes] | None = None
) -> ReceiptView:
    """Verify a receipt's signature (and, when given, that the gateway's own certificate signed it).

    `gateway_certificate_der`: the gateway's certificate, or during a rotation of its key both the
    current and the next one (`gateway.signing.rotation.published_ders`).
    """
    try:
        root = xmlsafe.parse(data)
        verified = verify_envelope(root)
    except Rejected as exc:
        raise ReceiptError(f"the receipt's signature does not verify: {exc}") from None
    if trust is not None:
        problems = trust.check(verified.certificate_der, verified.intermediates)
        if problems:
            raise ReceiptError(f"the receipt's signer is not trusted: {problems[0].message}")
    pinned = {gateway_certificate_der} if isinstance(gateway_certificate_der, bytes) else gateway_certificate_der
    if pinned is not None and verified.certificate_der not in pinned:
        raise ReceiptError("the receipt is not signed with the gateway's registered certificate")
    return receipt_view(root, data)


def receipt_view(root: etree._Element, data: bytes) -> ReceiptView:
    """What a receipt whose signature was already checked says (`data`: its bytes, kept as they are)."""
    header = read_header(root)
    receipt = content_element(root)
    if receipt is None or receipt.tag != builtin().root(RECEIPT):
        raise ReceiptError("the response is not a receipt")
    ns = {"r": etree.QName(receipt).namespace}

    def text(parent: etree._Element, path: str) -> str | None:
        return parent.findtext(path, namespaces=ns)

    errors = tuple(
        (text(error, "r:code") or "", text(error, "r:message") or "", text(error, "r:location"))
        for error in receipt.iterfind("r:errors/r:error", ns)
    )
    batch = receipt.find("r:batch", ns)
    return ReceiptView(
        status=text(receipt, "r:status") or "",
        function=header.function,
        received_message_id=text(receipt, "r:receivedMessageId"),
        digest=text(receipt, "r:digest/r:value") or "",
        errors=errors,
        signer=header.sender.identity,
        raw=data,
        batch=tuple(base64.b64decode(m.text or "") for m in batch.iterfind("r:message", ns)) if batch is not None else (),
        remaining=int(text(batch, "r:remaining") or 0) if batch is not None else 0,
    )


@dataclass(frozen=True)
class Submission:
    http_status: int
    receipt: bytes


def post_http(url: str, body: bytes, session: requests.Session | None = None, timeout: float = 30.0) -> Submission:
    sender = session or requests
    response = sender.post(
        url.rstrip("/") + "/v1/messages",
        data=body,
        headers={"Content-Type": "application/xml"},
        timeout=timeout,
    )
    return Submission(response.status_code, response.content)


def post_soap(url: str, body: bytes, version: str = "1.1", pull: bool = False) -> Submission:
    """Submit (or, with `pull`, send a MESSAGE_QUERY to Pull) through the SOAP door with zeep and the gateway's WSDL."""
    import zeep

    client = zeep.Client(url.rstrip("/") + "/soap?wsdl")
    service = client.service if version == "1.1" else client.bind("GatewayService", "GatewaySoap12")
    response = service.Pull(query=body) if pull else service.Submit(message=body)
    return Submission(200, response.receipt)


def certificate_der(certificate_file: Path) -> bytes:
    """The DER of the first certificate in a PEM file (e.g. the gateway's, to pin receipts to it)."""
    return der_of(load_certificates(certificate_file)[0])


class AmqpClient:
    """A partner on the AMQP door: publishes envelopes to the inbound exchange, reads receipts from its own queue."""

    def __init__(self, url: str, inbound_exchange: str) -> None:
        import pika

        from gateway.broker.connection import connect

        self._pika = pika
        self.connection = connect(url, name="gateway-client")
        self.channel = self.connection.channel()
        self.reply_queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.exchange = inbound_exchange

    def submit(self, body: bytes, correlation_id: str | None = None, content_type: str = "application/xml", timeout: float = 30.0) -> bytes:
        """Publish and wait for the receipt with the same correlation id."""
        correlation_id = correlation_id or str(uuid.uuid4())
        self.publish(body, correlation_id, content_type, self.reply_queue)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            method, props, payload = self.channel.basic_get(self.reply_queue, auto_ack=True)
            if method is None:
                self.connection.sleep(0.05)
            elif props.correlation_id == correlation_id:
                return payload
        raise TimeoutError(f"no receipt for {correlation_id} within {timeout}s")

    def publish(self, body: bytes, correlation_id: str, content_type: str, reply_to: str) -> None:
        """Publish `body` to the inbound exchange, asking for its receipt on `reply_to`."""
        properties = self._pika.BasicProperties(
            content_type=content_type, reply_to=reply_to, correlation_id=correlation_id, delivery_mode=2
        )
        self.channel.basic_publish(self.exchange, "", body, properties)

    def close(self) -> None:
        self.connection.close()
