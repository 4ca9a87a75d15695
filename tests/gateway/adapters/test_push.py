"""The push adapters against real HTTP servers: plain HTTP POST and SOAP 1.1/1.2 through zeep."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import make_server

import pytest
from partner import FAIL, PartnerEndpoint
from support import MessageFactory

from app.process import free_port
from gateway import client
from gateway.adapters import push_http
from gateway.adapters.pushers import PUSHERS
from gateway.envelope import PartyRef
from gateway.exceptions import DeliveryFailed
from gateway.parties import ENDPOINT_TRANSPORTS
from gateway.signing.keys import SigningIdentity

PARTNER = "SG-ASW"


@pytest.fixture
def partner(identity: Callable[[str], SigningIdentity]) -> Iterator[PartnerEndpoint]:
    endpoint = PartnerEndpoint(PartyRef(PARTNER, "TradeNet", "SG"), identity(PARTNER), identity("HQHCM")).start()
    yield endpoint
    endpoint.stop()


def test_every_configurable_transport_has_an_adapter() -> None:
    assert set(PUSHERS) == ENDPOINT_TRANSPORTS


@pytest.mark.parametrize(("transport", "path", "content_type"), [
    ("http", "/v1/messages", "application/xml"),
    ("soap", "/soap", "text/xml"),
    ("soap12", "/soap", "application/soap+xml"),
])
def test_the_exact_bytes_go_out_and_the_partners_receipt_comes_back(
    partner: PartnerEndpoint, messages: MessageFactory, transport: str, path: str, content_type: str
) -> None:
    body = messages.signed("ECOM_ORDER")

    answer = PUSHERS[transport](partner.url + path, body, timeout_s=5, correlation_id="corr-7")

    assert answer.status == 200
    assert [push.body for push in partner.pushes] == [body]
    receipt = client.read_receipt(answer.body, None)
    assert (receipt.signer, receipt.status) == (PARTNER, "ACCEPTED")


def test_an_http_failure_comes_back_as_an_answer_for_delivery_to_judge(partner: PartnerEndpoint, messages: MessageFactory) -> None:
    partner.mode = FAIL

    answer = PUSHERS["http"](partner.url + "/v1/messages", messages.signed("ECOM_ORDER"), timeout_s=5, correlation_id="c")

    assert (answer.status, answer.body) == (503, b"")


@pytest.mark.parametrize("transport", ["soap", "soap12"])
def test_a_soap_fault_is_a_failed_attempt(partner: PartnerEndpoint, messages: MessageFactory, transport: str) -> None:
    partner.mode = FAIL

    with pytest.raises(DeliveryFailed, match="SOAP fault"):
        PUSHERS[transport](partner.url + "/soap", messages.signed("ECOM_ORDER"), timeout_s=5, correlation_id="c")


@pytest.mark.parametrize("transport", sorted(ENDPOINT_TRANSPORTS))
def test_nobody_listening_is_a_failed_attempt(transport: str) -> None:
    url = f"http://127.0.0.1:{free_port()}/soap"

    with pytest.raises(DeliveryFailed, match="127.0.0.1") as failed:
        PUSHERS[transport](url, b"<x/>", timeout_s=2, correlation_id="c")

    assert not failed.value.final


def test_an_answer_too_large_to_be_a_receipt_is_not_read_to_the_end() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "application/xml")])
        return iter([b"x" * 65536] * (push_http.MAX_ANSWER_BYTES // 65536 + 2))

    server = make_server("127.0.0.1", 0, app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(DeliveryFailed, match="larger than"):
            push_http.push(f"http://127.0.0.1:{server.server_port}/", b"<x/>", timeout_s=5, correlation_id="c")
    finally:
        server.shutdown()
        server.server_close()
