"""Pulling with acknowledgement through every door of a running gateway, on the real broker and both stores."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import zeep
from support import AMQP_URL, PULLERS, Live

from conformance import SAMPLES_DIR
from gateway import client, xmlsafe
from gateway.envelope import PartyRef, content_element, read_header
from gateway.lifecycle import OutboundStatus
from gateway.outbound.compose import EnvelopeComposer, Subject
from gateway.outbound.pull import MESSAGE_ACK, MESSAGE_QUERY, ack_content, query_content
from gateway.signing.keys import SigningIdentity
from gateway.store.engine import writing

PULLER = PULLERS[3]  # a party of this test's own on the shared gateway


def test_a_party_pulls_its_messages_through_every_door_and_acknowledges_them(
    live_gateway: Live, identity: Callable[[str], SigningIdentity]
) -> None:
    services = live_gateway.services
    content = content_element(client.load_envelope(SAMPLES_DIR / "RESULT_NOTICE.xml"))
    with writing(services.engine) as tx:
        sent = [
            services.outbox.emit(tx, PULLER, Subject("RESULT_NOTICE", "23", f"10701234567{n}"), content, "corr", actor="worker")
            for n in range(8)
        ]
    me = services.parties.get(PULLER)
    assert me is not None
    composer = EnvelopeComposer(PartyRef(me.identity, me.name, me.country), identity(PULLER), services.schemas)
    gateway = PartyRef(services.settings.gateway.identity, services.settings.gateway.name, services.settings.gateway.country)
    gateway_cert = client.certificate_der(services.settings.party_cert(services.settings.gateway.identity))

    def signed(subject: Subject, payload) -> bytes:  # type: ignore[no-untyped-def]
        return composer.compose(gateway, subject, payload).body

    soap11 = zeep.Client(live_gateway.url + "/soap?wsdl")
    soap12 = soap11.bind("GatewayService", "GatewaySoap12")
    amqp = client.AmqpClient(AMQP_URL, services.topology.inbound_exchange)
    doors: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
        # door: (how a query goes, how an acknowledgement goes)
        "http": (lambda b: client.post_http(live_gateway.url, b).receipt,) * 2,
        "soap 1.1": (lambda b: soap11.service.Pull(query=b).receipt, lambda b: soap11.service.Submit(message=b).receipt),
        "soap 1.2": (lambda b: soap12.Pull(query=b).receipt, lambda b: soap12.Submit(message=b).receipt),
        "amqp": (lambda b: amqp.submit(b, str(uuid.uuid4())),) * 2,
    }
    received: list[bytes] = []
    try:
        for door, (ask, acknowledge) in doors.items():
            answer = client.read_receipt(ask(signed(Subject(MESSAGE_QUERY, "11"), query_content(limit=2))), services.trust, gateway_cert)
            assert answer.accepted and len(answer.batch) == 2, (door, answer.errors)
            assert answer.remaining == len(sent) - len(received) - 2
            ids = [read_header(xmlsafe.parse(body)).message_id for body in answer.batch]
            ack = client.read_receipt(acknowledge(signed(Subject(MESSAGE_ACK, "99"), ack_content(ids))), services.trust, gateway_cert)
            assert ack.status == "ACCEPTED", (door, ack.errors)
            received.extend(answer.batch)
        last = client.read_receipt(
            client.post_http(live_gateway.url, signed(Subject(MESSAGE_QUERY, "11"), query_content())).receipt, services.trust
        )
    finally:
        amqp.close()

    assert received == [m.body for m in sent]  # every message once, oldest first, across the doors
    assert last.batch == () and last.remaining == 0
    assert {services.outbox.get(m.message_id).status for m in sent} == {OutboundStatus.DELIVERED.value}  # type: ignore[union-attr]
