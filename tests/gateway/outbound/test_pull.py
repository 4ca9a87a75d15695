"""Pulling through the intake pipeline, on both stores: signed queries answered with the party's own
messages, oldest first and in batches; signed acknowledgements marking them delivered; queries by
reference under the read permissions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support import MessageFactory, write_config

from conformance import SAMPLES_DIR
from gateway import client, xmlsafe
from gateway.envelope import PartyRef, content_element, read_header
from gateway.lifecycle import OutboundStatus
from gateway.outbound.compose import EnvelopeComposer, Subject
from gateway.outbound.outbox import OutboundMessage
from gateway.outbound.pull import MESSAGE_ACK, MESSAGE_QUERY, ack_content, query_content
from gateway.pipeline import Outcome, Pipeline, Transport
from gateway.services import Services
from gateway.signing.keys import SigningIdentity
from gateway.signing.verify import verify_envelope
from gateway.store.engine import writing

MARKETPLACE, TRADER, MINISTRY = "0101234567", "0312345678", "BYT"
HTTP = Transport("http")
BATCH_SIZE = 3


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    return write_config(tmp_path / "config", pki_dir, namespace, delivery={"batch_size": BATCH_SIZE})


Send = Callable[..., Outcome]


@pytest.fixture
def send(pipeline: Pipeline, services: Services, identity: Callable[[str], SigningIdentity]) -> Send:
    """Sign a query or acknowledgement as `party` and put it through the pipeline."""

    def sign_and_submit(party: str, subject: Subject, content, signer: str | None = None, transport: Transport = HTTP):  # type: ignore[no-untyped-def]
        me = services.parties.get(party)
        assert me is not None
        composer = EnvelopeComposer(PartyRef(me.identity, me.name, me.country), identity(signer or party), services.schemas)
        gateway = services.settings.gateway
        body = composer.compose(PartyRef(gateway.identity, gateway.name, gateway.country), subject, content).body
        return pipeline.submit(body, transport)

    return sign_and_submit


def query(send: Send, party: str, **asked: object) -> client.ReceiptView:
    outcome = send(party, Subject(MESSAGE_QUERY, "11"), query_content(**asked))
    answer = client.read_receipt(outcome.receipt, None)
    assert outcome.status == 200 and answer.accepted, answer.errors
    return answer


def acknowledge(send: Send, party: str, message_ids: list[str]) -> Outcome:
    outcome = send(party, Subject(MESSAGE_ACK, "99"), ack_content(message_ids))
    assert outcome.accepted, outcome.codes
    return outcome


def emit(services: Services, recipient: str, count: int, reference: str = "107012345670") -> list[OutboundMessage]:
    content = content_element(client.load_envelope(SAMPLES_DIR / "RESULT_NOTICE.xml"))
    with writing(services.engine) as tx:
        return [
            services.outbox.emit(tx, recipient, Subject("RESULT_NOTICE", "23", reference), content, "corr", actor="worker")
            for _ in range(count)
        ]


def test_a_query_gets_the_partys_own_messages_oldest_first_each_signed_by_the_gateway(
    services: Services, send: Send
) -> None:
    mine = emit(services, MARKETPLACE, 2)
    emit(services, TRADER, 2)  # someone else's

    answer = query(send, MARKETPLACE)

    assert answer.batch == tuple(m.body for m in mine) and answer.remaining == 0
    gateway_cert = client.certificate_der(services.settings.party_cert(services.settings.gateway.identity))
    for body in answer.batch:
        signature = verify_envelope(xmlsafe.parse(body))
        assert signature.certificate_der == gateway_cert
        assert read_header(signature.root).recipient.identity == MARKETPLACE
    assert client.read_receipt(send(MARKETPLACE, Subject(MESSAGE_QUERY, "11"), query_content()).receipt, services.trust).signer == (
        services.settings.gateway.identity
    )


def test_batches_are_limited_and_say_how_many_remain(services: Services, send: Send) -> None:
    sent = emit(services, MARKETPLACE, 5)

    assert query(send, MARKETPLACE, limit=2).batch == tuple(m.body for m in sent[:2])
    capped = query(send, MARKETPLACE, limit=1000)  # the gateway caps a batch at [delivery] batch_size
    assert capped.batch == tuple(m.body for m in sent[:BATCH_SIZE]) and capped.remaining == 5 - BATCH_SIZE


def test_a_batch_stops_at_the_byte_limit_but_carries_one_message_at_least(services: Services) -> None:
    sent = emit(services, MARKETPLACE, 3)
    size = len(sent[0].body)

    assert services.outbox.batch_for(MARKETPLACE, 10, size * 2 + 1).messages == (sent[0].body, sent[1].body)
    one = services.outbox.batch_for(MARKETPLACE, 10, 1)
    assert one.messages == (sent[0].body,) and one.remaining == 2


def test_acknowledged_messages_are_delivered_with_the_signed_acknowledgement_as_proof(
    services: Services, send: Send
) -> None:
    sent = emit(services, MARKETPLACE, 3)
    first = query(send, MARKETPLACE)
    taken = [read_header(xmlsafe.parse(body)).message_id for body in first.batch[:2]]

    ack = acknowledge(send, MARKETPLACE, taken)

    again = query(send, MARKETPLACE)
    assert again.batch == (sent[2].body,)
    for message in sent[:2]:
        row = services.outbox.get(message.message_id)
        assert row is not None and row.status == OutboundStatus.DELIVERED.value and row.delivered_at is not None
        proof = verify_envelope(xmlsafe.parse(row.delivery_receipt))  # the party's own signature on the ids
        assert read_header(proof.root).sender.identity == MARKETPLACE
    assert services.store.get(MARKETPLACE, ack.message_id) is not None  # recorded like any message
    assert acknowledge(send, MARKETPLACE, taken).accepted  # acknowledging again is harmless
    for message in sent[:2]:  # ... and moves nothing twice
        assert [(s.from_status, s.to_status, s.actor, s.reason) for s in services.outbox.timeline(message.pk)] == [
            (None, "pending", "worker", None),
            ("pending", "delivered", "pull", f"acknowledged by MESSAGE_ACK {ack.message_id}"),
        ]
    assert [s.to_status for s in services.outbox.timeline(sent[2].pk)] == ["pending"]


def test_a_party_cannot_acknowledge_or_pull_someone_elses_messages(services: Services, send: Send) -> None:
    theirs = emit(services, TRADER, 1)[0]

    acknowledge(send, MARKETPLACE, [theirs.message_id])

    assert services.outbox.get(theirs.message_id).status == OutboundStatus.PENDING.value  # type: ignore[union-attr]
    assert query(send, MARKETPLACE).batch == ()
    assert query(send, TRADER).batch == (theirs.body,)


def test_a_query_signed_with_another_key_gets_a_signed_rejection_and_no_messages(services: Services, send: Send) -> None:
    emit(services, MARKETPLACE, 1)

    outcome = send(MARKETPLACE, Subject(MESSAGE_QUERY, "11"), query_content(), signer=TRADER)

    rejection = client.read_receipt(outcome.receipt, services.trust)
    assert (outcome.status, rejection.codes, rejection.batch) == (403, ("CERTIFICATE_NOT_REGISTERED",), ())


def test_an_identical_resend_of_a_query_gets_the_original_answer(
    services: Services, pipeline: Pipeline, messages: MessageFactory
) -> None:
    emit(services, MARKETPLACE, 1)
    body = messages.signed(MESSAGE_QUERY)
    first = pipeline.submit(body, HTTP)
    emit(services, MARKETPLACE, 1)

    assert pipeline.submit(body, HTTP).receipt == first.receipt


def test_the_pull_operation_takes_queries_only(services: Services, send: Send) -> None:
    pull = Transport("soap", only=frozenset({MESSAGE_QUERY}))

    outcome = send(
        MARKETPLACE, Subject(MESSAGE_ACK, "99"), ack_content(["8a4b0d32-6c9f-4e70-b2d3-4f5a6b7c8d91"]), transport=pull
    )

    assert (outcome.status, outcome.codes) == (422, ("OPERATION_MISMATCH",))
    assert send(MARKETPLACE, Subject(MESSAGE_QUERY, "11"), query_content(), transport=pull).accepted


def test_a_query_by_reference_gets_what_the_party_may_read(services: Services, send: Send) -> None:
    notices = emit(services, MARKETPLACE, 2, reference="ORDER-42")

    allowed = query(send, MARKETPLACE, reference="ORDER-42")
    refused = send(TRADER, Subject(MESSAGE_QUERY, "11"), query_content(reference="ORDER-42"))

    assert set(allowed.batch) == {m.body for m in notices}
    rejection = client.read_receipt(refused.receipt, services.trust)
    assert (refused.status, rejection.codes, rejection.batch) == (403, ("READ_NOT_PERMITTED",), ())
