"""Two gateways on one machine (app/cli/two_gateways.py), Vietnam's on PostgreSQL and the partner's on
SQLite, each with its own PKI, exchange e-Form D and ACDD in both directions over the real broker: pushed
over SOAP one way and HTTP the other, a signed receipt for every hop, the business answer back to the sender."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import AMQP_URL, ServerTurns, isolated_schema

from app.cli.two_gateways import Nsw, Side, document, prepare, reference, running, sides
from app.process import free_port
from app.wiring import assemble
from gateway import client, xmlsafe
from gateway.broker.connection import connect
from gateway.config import load_settings
from gateway.envelope import read_header
from gateway.lifecycle import OutboundStatus
from gateway.schemas.catalogue import common_namespace
from gateway.services import Services
from gateway.signing.verify import verify_envelope

pytestmark = pytest.mark.slow(holds_a_turn=True)  # see `pair`
RESPONSE_NS = "urn:customs.gov.vn:asw:customs-response:1"


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, server_turns: ServerTurns
) -> Iterator[tuple[Side, Side]]:
    """Both gateways, started once for the module (each test uses references of its own), in a turn on the
    broker that lasts as long (a restart would break their connections between the tests)."""
    namespace = f"gwtest-{uuid.uuid4().hex[:8]}"
    with server_turns.hold(), isolated_schema(postgres_url) as vn_db:
        made = sides(tmp_path_factory.mktemp("two-gateways"), free_port(), free_port(), {"vn": vn_db})
        prepare(made, load_settings(Path(__file__).parents[3] / "config" / "gateway.toml", environ={}), namespace)
        try:
            with running(made, AMQP_URL):
                yield made
        finally:
            delete_topologies(made)


def delete_topologies(made: tuple[Side, Side]) -> None:
    for side in made:
        services = assemble(side.settings(AMQP_URL)).services
        with contextlib.closing(connect(AMQP_URL)) as connection:
            services.topology.delete(connection.channel())
        services.close()


def outbox_of(side: Side) -> Services:
    return assemble(side.settings(AMQP_URL)).services


def test_e_form_d_and_acdd_go_both_ways_with_signed_receipts_and_business_answers(pair: tuple[Side, Side]) -> None:
    vn, sg = pair
    nsw = {side.key: Nsw(side, AMQP_URL) for side in pair}
    references = set()

    for kind in ("ATIGA_FORM_D", "ACDD"):
        for sender, receiver in ((sg, vn), (vn, sg)):
            ref = reference(kind, sender.gateway.country_code)
            references.add(ref)
            receipt = nsw[sender.key].send(document(kind, sender, receiver, ref))
            assert receipt.accepted, receipt.errors

            header, body = nsw[receiver.key].receive(lambda h, ref=ref, kind=kind: h.document_type == kind and h.reference == ref)
            assert (header.sender.identity, header.recipient.identity) == (receiver.gateway.identity, receiver.nsw.identity)
            assert read_header(verify_envelope(xmlsafe.parse(body)).root).function == "01"

            answer, answer_body = nsw[sender.key].receive(
                lambda h, sent=receipt.received_message_id: h.document_type == "CUSTOMS_RESPONSE" and h.pre_reference == sent
            )
            assert (answer.function, answer.sender.identity, answer.reference) == ("21", sender.gateway.identity, ref)
            responds_to = xmlsafe.parse(answer_body).findtext(f".//{{{RESPONSE_NS}}}respondsTo/{{{RESPONSE_NS}}}messageId")
            assert responds_to == receipt.received_message_id  # about the NSW's own message, not the forwarded copy

    for side, other in ((vn, sg), (sg, vn)):
        services = outbox_of(side)
        try:
            to_partner = [e for e in services.outbox.entries(recipient=other.gateway.identity) if e.reference in references]
            assert len(to_partner) == 4  # two documents forwarded, two answers
            for entry in to_partner:
                assert entry.status == OutboundStatus.DELIVERED.value
                proof = verify_envelope(xmlsafe.parse(entry.delivery_receipt))  # the partner's signed receipt
                receipt = client.receipt_view(proof.root, entry.delivery_receipt)
                assert (receipt.signer, receipt.received_message_id) == (other.gateway.identity, entry.message.message_id)
        finally:
            services.close()


def test_the_receiving_side_rejects_a_document_that_is_not_the_partners_and_does_not_forward_it(
    pair: tuple[Side, Side],
) -> None:
    vn, sg = pair
    singapore = Nsw(sg, AMQP_URL)
    ref = reference("ACDD", "TH")

    receipt = singapore.send(document("ACDD", sg, vn, ref, origin="TH"))  # exported from Thailand, it says
    answer, body = singapore.receive(lambda h: h.document_type == "CUSTOMS_RESPONSE" and h.pre_reference == receipt.received_message_id)

    assert answer.function == "22"
    assert xmlsafe.parse(body).xpath("//cm:code/text()", namespaces={"cm": common_namespace()}) == ["ORIGIN_NOT_PARTNER"]
    services = outbox_of(vn)
    try:
        assert [e for e in services.outbox.entries(recipient=vn.nsw.identity) if e.reference == ref] == []
    finally:
        services.close()


def test_a_partner_ca_vouches_for_the_partner_only(pair: tuple[Side, Side]) -> None:
    """Singapore's NSW signs with a certificate of Singapore's CA, which Vietnam trusts for SG-ASW alone."""
    vn, sg = pair
    singapore = Nsw(sg, AMQP_URL)
    as_vnsw = document("ATIGA_FORM_D", vn, sg, reference("ATIGA_FORM_D", "VN"))  # claims to come from VNSW

    answer = client.post_http(vn.url, client.sign(as_vnsw, singapore.signer))

    rejection = client.read_receipt(answer.receipt, None)
    assert answer.http_status == 403
    assert set(rejection.codes) == {"CERTIFICATE_UNTRUSTED", "CERTIFICATE_NOT_REGISTERED"}
