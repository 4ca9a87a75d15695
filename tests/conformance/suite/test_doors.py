"""What the doors make of answers that are not receipts (the usual answers are exercised against live gateways)."""

from __future__ import annotations

import base64

import zeep.exceptions
from lxml import etree

from app.process import free_port
from conformance.suite.builder import Message
from conformance.suite.doors import SOAP_NS, HttpDoor, fault_response


def test_a_failed_request_is_an_answer_without_a_receipt() -> None:
    door = HttpDoor(f"http://127.0.0.1:{free_port()}", timeout=5)  # nothing listens there

    response = door.send(Message(b"<Envelope/>", None, None))

    assert response.receipt is None and response.problem and response.problem.startswith("the request failed")


def test_a_soap_fault_gives_its_codes_and_the_receipt_it_carries() -> None:
    detail = etree.Element("detail")
    etree.SubElement(detail, f"{{{SOAP_NS}}}errorCode").text = "STORE_UNAVAILABLE"
    etree.SubElement(detail, f"{{{SOAP_NS}}}receipt").text = base64.b64encode(b"<signed-receipt/>").decode()

    response = fault_response(zeep.exceptions.Fault("try again later", code="soapenv:Server", detail=detail))

    assert response.receipt == b"<signed-receipt/>"
    assert response.claimed_codes == ("STORE_UNAVAILABLE",) and response.claimed_accepted is False
    assert response.problem == "SOAP fault soapenv:Server: try again later"
