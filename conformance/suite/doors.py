"""The doors a run can drive: plain HTTP, SOAP 1.1, SOAP 1.2 (with zeep, from the WSDL) and AMQP.

Each door sends bytes and hands back the receipt with what the door said
alongside it (HTTP status and headers, the SOAP response's fields), so that the
verdict can check that a door's own account agrees with the signed receipt.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Protocol

import requests
import zeep
import zeep.exceptions
import zeep.transports
from lxml import etree

from conformance.suite.builder import Message
from gateway.client import AmqpClient

SOAP_NS = "urn:customs.gov.vn:ecom:gateway:soap:1"
XML_CONTENT_TYPE = "application/xml"


@dataclass(frozen=True)
class Response:
    """What came back: the receipt, and what the door claimed besides it."""

    receipt: bytes | None
    http_status: int | None = None
    claimed_accepted: bool | None = None  # X-Receipt-Status, SubmitResponse/accepted
    claimed_codes: tuple[str, ...] | None = None  # X-Error-Codes, SubmitResponse/errorCode, a fault's detail
    problem: str | None = None  # when the door did not answer with a receipt in the usual way


class Door(Protocol):
    name: str

    def send(self, message: Message) -> Response:
        """Send the message's body, with its content type or operation where the door has them."""
        ...

    def close(self) -> None: ...


class HttpDoor:
    name = "http"

    def __init__(self, url: str, timeout: float = 120.0) -> None:
        self.url = url.rstrip("/") + "/v1/messages"
        self.timeout = timeout
        self.session = requests.Session()
        # A connection per request: a kept-alive one that the gateway closes for idleness just as the next
        # request goes out would fail that request for a reason that is nobody's fault.
        self.session.headers["Connection"] = "close"

    def send(self, message: Message) -> Response:
        content_type = message.content_type
        headers = {} if content_type == "" else {"Content-Type": content_type or XML_CONTENT_TYPE}
        try:
            answer = self.session.post(self.url, data=message.body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:  # e.g. the connection closed while the body was sent
            return Response(None, problem=f"the request failed: {exc}")
        status = answer.headers.get("X-Receipt-Status")
        return Response(
            receipt=answer.content or None,
            http_status=answer.status_code,
            claimed_accepted=None if status is None else status == "accepted",
            claimed_codes=tuple(answer.headers.get("X-Error-Codes", "").split()),
        )

    def close(self) -> None:
        self.session.close()


class SoapDoor:
    """Operation Submit of the gateway's WSDL, called through zeep as any SOAP client would."""

    def __init__(self, url: str, version: str = "1.1", timeout: float = 120.0) -> None:
        self.name = "soap11" if version == "1.1" else "soap12"
        client = zeep.Client(url.rstrip("/") + "/soap?wsdl", transport=zeep.transports.Transport(timeout=timeout))
        self.service = client.service if version == "1.1" else client.bind("GatewayService", "GatewaySoap12")

    def send(self, message: Message) -> Response:
        try:
            if message.operation == "Pull":
                answer = self.service.Pull(query=message.body)
            else:
                answer = self.service.Submit(message=message.body)
        except zeep.exceptions.Fault as fault:
            return fault_response(fault)
        except (zeep.exceptions.TransportError, requests.RequestException) as exc:
            return Response(None, problem=f"the SOAP call failed: {exc}")
        return Response(
            receipt=answer.receipt,
            claimed_accepted=bool(answer.accepted),
            claimed_codes=tuple(answer.errorCode or ()),
        )

    def close(self) -> None:
        """zeep holds nothing that needs closing."""


class AmqpDoor:
    name = "amqp"

    def __init__(self, url: str, exchange: str, timeout: float = 120.0, quiet_s: float = 5.0) -> None:
        self.client = AmqpClient(url, exchange)
        self.timeout = timeout
        self.quiet_s = quiet_s

    def send(self, message: Message) -> Response:
        content_type = XML_CONTENT_TYPE if message.content_type is None else message.content_type
        if message.reply_to is not None:
            return self._to_ordinary_queue(message.body, content_type)
        try:
            return Response(self.client.submit(message.body, str(uuid.uuid4()), content_type, self.timeout))
        except TimeoutError as exc:
            return Response(None, problem=str(exc))

    def _to_ordinary_queue(self, body: bytes, content_type: str) -> Response:
        """Publish with reply_to naming a queue this run declared with a name of its own (as anyone could, the
        gateway's own queues' names included), and return whatever reached it within `quiet_s`."""
        channel = self.client.channel
        queue = f"conformance.reply-to.{uuid.uuid4()}"
        channel.queue_declare(queue, exclusive=True)
        try:
            self.client.publish(body, str(uuid.uuid4()), content_type, queue)
            self.client.connection.sleep(self.quiet_s)
            _, _, delivered = channel.basic_get(queue, auto_ack=True)
        finally:
            channel.queue_delete(queue)
        return Response(delivered)

    def close(self) -> None:
        self.client.close()


def open_door(target: str, soap: str | None = None, amqp_exchange: str | None = None) -> Door:
    """The door to drive: AMQP when an exchange is named (`target` is then the broker URL), else HTTP or SOAP."""
    if amqp_exchange:
        return AmqpDoor(target, amqp_exchange)
    if soap:
        return SoapDoor(target, soap)
    return HttpDoor(target)


def fault_response(fault: Exception) -> Response:
    """A SOAP fault: its codes (detail gw:errorCode), and the signed receipt when the detail carries one."""
    detail = getattr(fault, "detail", None)
    codes: tuple[str, ...] = ()
    receipt = None
    if isinstance(detail, etree._Element):
        codes = tuple(e.text or "" for e in detail.iter(f"{{{SOAP_NS}}}errorCode"))
        carried = detail.find(f".//{{{SOAP_NS}}}receipt")
        if carried is not None and carried.text:
            receipt = base64.b64decode(carried.text)
    reason = f"SOAP fault {getattr(fault, 'code', '?')}: {getattr(fault, 'message', fault)}"
    return Response(receipt, claimed_accepted=False, claimed_codes=codes, problem=reason)
