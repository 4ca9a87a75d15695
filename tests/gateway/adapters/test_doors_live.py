"""Every door of a running gateway (`gateway serve` in a subprocess), on the real broker and both stores."""

from __future__ import annotations

import http.client
import uuid

import requests
import zeep
from conftest import Live
from sqlalchemy import func, select
from support import AMQP_URL, MessageFactory, wait_until

from conformance import SAMPLE_SENDERS
from gateway import client
from gateway.lifecycle import MessageStatus
from gateway.services import Services
from gateway.store.tables import messages as messages_table
from gateway.store.tables import processing, rejections


def amqp_partner(services: Services) -> client.AmqpClient:
    return client.AmqpClient(AMQP_URL, services.topology.inbound_exchange)


def _status_counts(services: Services, message_ids: list[str]) -> dict[str, int]:
    with services.engine.connect() as connection:
        rows = connection.execute(
            select(messages_table.c.status, func.count())
            .where(messages_table.c.message_id.in_(message_ids))
            .group_by(messages_table.c.status)
        )
        return {status: count for status, count in rows}


def test_every_sample_through_every_door_reaches_its_handler(live_gateway: Live, messages: MessageFactory) -> None:
    services = live_gateway.services
    soap11 = zeep.Client(live_gateway.url + "/soap?wsdl")
    soap12 = soap11.bind("GatewayService", "GatewaySoap12")
    partner = amqp_partner(services)
    accepted: list[str] = []
    try:
        for document_type in sorted(SAMPLE_SENDERS):
            doors = {
                "http": lambda body: client.post_http(live_gateway.url, body).receipt,
                "soap 1.1": lambda body: soap11.service.Submit(message=body).receipt,
                "soap 1.2": lambda body: soap12.Submit(message=body).receipt,
                "amqp": lambda body: partner.submit(body, str(uuid.uuid4())),
            }
            for door, send in doors.items():
                body = messages.signed(document_type)
                receipt = client.read_receipt(send(body), services.trust)
                assert receipt.status == "ACCEPTED", (document_type, door, receipt.errors)
                accepted.append(receipt.received_message_id)
    finally:
        partner.close()

    assert len(accepted) == len(SAMPLE_SENDERS) * 4
    wait_until(lambda: _status_counts(services, accepted) == {MessageStatus.PROCESSED.value: len(accepted)}, timeout=60)
    with services.engine.connect() as connection:
        handled = connection.execute(
            select(func.count(func.distinct(processing.c.message)))  # a route may run several handlers
            .select_from(processing.join(messages_table))
            .where(messages_table.c.message_id.in_(accepted))
        ).scalar_one()
    assert handled == len(accepted)


def test_http_door_answers_every_request_with_the_right_status(live_gateway: Live, messages: MessageFactory) -> None:
    services = live_gateway.services
    url = live_gateway.url
    body = messages.signed("ECOM_ORDER")

    wrong_type = requests.post(url + "/v1/messages", data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert wrong_type.status_code == 415
    assert client.read_receipt(wrong_type.content, services.trust).codes == ("CONTENT_TYPE_UNSUPPORTED",)

    # Only the headers are sent: the door must refuse on the declared length, before reading a byte.
    connection = http.client.HTTPConnection("127.0.0.1", live_gateway.port, timeout=10)
    connection.putrequest("POST", "/v1/messages")
    connection.putheader("Content-Type", "application/xml")
    connection.putheader("Content-Length", str(services.settings.http.max_body_bytes + 1))
    connection.endheaders()
    too_large = connection.getresponse()
    assert too_large.status == 413
    assert client.read_receipt(too_large.read(), services.trust).codes == ("REQUEST_TOO_LARGE",)
    connection.close()

    empty = requests.post(url + "/v1/messages", data=b"", headers={"Content-Type": "application/xml"}, timeout=10)
    assert empty.status_code == 400
    assert client.read_receipt(empty.content, services.trust).codes == ("REQUEST_EMPTY",)
    with services.engine.connect() as connection:  # each kept with the client's address, as not authenticated
        refused = connection.execute(
            select(rejections.c.peer, rejections.c.authenticated).where(
                rejections.c.door == "http", rejections.c.codes.in_(("CONTENT_TYPE_UNSUPPORTED", "REQUEST_EMPTY"))
            )
        ).all()
    assert refused and set(refused) == {("127.0.0.1", False)}

    assert requests.get(url + "/v1/messages", timeout=10).status_code == 405
    assert requests.get(url + "/nowhere", timeout=10).status_code == 404
    assert requests.get(url + "/healthz", timeout=10).json() == {"status": "ok"}
    ready = requests.get(url + "/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"] == {"store": True, "broker": True}
    wsdl = requests.get(url + "/soap?wsdl", timeout=10)
    assert wsdl.status_code == 200 and b"GatewayService" in wsdl.content and url.encode() in wsdl.content
    certificates = requests.get(url + "/v1/certificates", timeout=10)
    assert certificates.status_code == 200 and certificates.headers["Content-Type"] == "application/pem-certificate-chain"
    assert certificates.content == services.keys.published() and b"BEGIN CERTIFICATE" in certificates.content

    accepted = requests.post(url + "/v1/messages", data=body, headers={"Content-Type": "application/xml"}, timeout=10)
    assert accepted.status_code == 200 and accepted.headers["X-Receipt-Status"] == "accepted"
    resent = requests.post(url + "/v1/messages", data=body, headers={"Content-Type": "application/xml"}, timeout=10)
    assert resent.status_code == 200 and resent.content == accepted.content

    metrics = requests.get(url + "/metrics", timeout=10).text
    assert 'gateway_intake_messages_total{door="http",outcome="accepted"}' in metrics
    assert 'outcome="REQUEST_TOO_LARGE"' in metrics
    assert 'gateway_unauthenticated_rejections_total{door="http"}' in metrics
    # the earliest expiry per party, the gateway's own certificate included (read from the store per scrape)
    own = services.keys.current.certificate.not_valid_after_utc.timestamp()
    expiry = {
        line.split('"')[1]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("gateway_certificate_expiry_timestamp_seconds{")
    }
    assert expiry[services.settings.gateway.identity] == own
    assert {party.identity for party in services.parties.all()} <= set(expiry)


def test_amqp_door_answers_a_bad_message_with_a_signed_rejection(live_gateway: Live, messages: MessageFactory) -> None:
    services = live_gateway.services
    partner = amqp_partner(services)
    try:
        tampered = messages.signed("ECOM_ORDER").replace(b"VS-260309-0091847", b"VS-260309-0091848", 1)
        rejection = client.read_receipt(partner.submit(tampered, "corr-1"), services.trust)
        wrong_type = client.read_receipt(partner.submit(b"{}", "corr-2", "application/json"), services.trust)
        accepted = client.read_receipt(partner.submit(messages.signed("ECOM_ORDER"), "corr-3"), services.trust)
    finally:
        partner.close()
    assert rejection.status == "REJECTED" and rejection.codes == ("SIGNATURE_DIGEST_MISMATCH",)
    assert wrong_type.codes == ("CONTENT_TYPE_UNSUPPORTED",)
    assert accepted.status == "ACCEPTED"
