"""The forwarder on both stores and the real broker: what intake records is published after the receipt, and noted queued."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from support import AMQP_URL, MessageFactory, Queues

from conformance import SAMPLE_SENDERS
from gateway.broker.confirming import ConfirmingPublisher
from gateway.broker.forwarder import Forwarded, Forwarder, accepted_message
from gateway.lifecycle import MessageStatus
from gateway.pipeline import Pipeline, Transport
from gateway.services import Services
from gateway.store.messages import StoredMessage

UNREACHABLE = "amqp://guest:guest@127.0.0.1:1/%2F"


def recorded_unpublished(pipeline: Pipeline, messages: MessageFactory, count: int) -> list[StoredMessage]:
    """Messages as intake records them, with nothing published yet (its forward stage left out)."""
    recording = pipeline.replacing("forward", lambda intake, services: None)
    stored = []
    for _ in range(count):
        outcome = recording.submit(messages.signed("ECOM_ORDER"), Transport("soap"))
        assert outcome.accepted, outcome.codes
        found = pipeline.services.store.get(SAMPLE_SENDERS["ECOM_ORDER"], outcome.message_id)
        assert found is not None
        stored.append(found)
    return stored


def forwarded(services: Services, message: StoredMessage, door: str = "soap") -> Forwarded:
    return Forwarded(
        message.pk,
        door,
        accepted_message(
            services.topology.messages_exchange, message.route, message.body, pk=message.pk,
            message_id=message.message_id, correlation_id=message.correlation_id, sender=message.sender,
            document_type=message.document_type, function=message.function, digest=message.digest,
        ),
    )


def status(services: Services, message: StoredMessage) -> str:
    found = services.store.get(message.sender, message.message_id)
    assert found is not None
    return found.status


@pytest.fixture
def make_forwarder(services: Services) -> Iterator:  # type: ignore[type-arg]
    made: list[Forwarder] = []

    def make(url: str = AMQP_URL, capacity: int = 1000) -> Forwarder:
        made.append(Forwarder(services.store, ConfirmingPublisher(url, timeout_s=2.0, retry_after_s=60.0), capacity=capacity))
        return made[-1]

    yield make
    for forwarder in made:
        forwarder.close()


def test_forwarded_messages_reach_their_route_and_are_noted_queued_by_their_door(
    services: Services, pipeline: Pipeline, messages: MessageFactory, queues: Queues, make_forwarder
) -> None:
    stored = recorded_unpublished(pipeline, messages, 5)
    forwarder = make_forwarder()

    for message in stored:
        forwarder.forward(forwarded(services, message))
    assert forwarder.flush()

    taken = queues.take_all(services.topology.route_queue("orders"), 5)
    assert sorted(int(properties.headers["x-store-id"]) for properties, _ in taken) == sorted(m.pk for m in stored)
    for message in stored:
        assert status(services, message) == MessageStatus.QUEUED.value
        last = services.store.timeline(message.pk)[-1]
        assert (last.from_status, last.to_status, last.actor) == ("accepted", "queued", "soap")


def test_with_the_broker_down_forwarded_messages_stay_accepted_for_the_relay(
    services: Services, pipeline: Pipeline, messages: MessageFactory, make_forwarder
) -> None:
    stored = recorded_unpublished(pipeline, messages, 3)
    forwarder = make_forwarder(UNREACHABLE)

    for message in stored:
        forwarder.forward(forwarded(services, message))

    assert forwarder.flush()
    assert [status(services, m) for m in stored] == [MessageStatus.ACCEPTED.value] * 3


def test_a_full_forwarder_never_blocks_intake_and_leaves_the_rest_to_the_relay(
    services: Services, pipeline: Pipeline, messages: MessageFactory, make_forwarder
) -> None:
    stored = recorded_unpublished(pipeline, messages, 1)
    forwarder = make_forwarder(UNREACHABLE, capacity=2)

    started = time.monotonic()
    for _ in range(200):
        forwarder.forward(forwarded(services, stored[0]))
    assert time.monotonic() - started < 1.0  # the publisher is failing meanwhile: nothing waited for it

    assert forwarder.flush()
    assert status(services, stored[0]) == MessageStatus.ACCEPTED.value


def test_closing_publishes_what_is_still_waiting(
    services: Services, pipeline: Pipeline, messages: MessageFactory, queues: Queues
) -> None:
    stored = recorded_unpublished(pipeline, messages, 4)
    forwarder = Forwarder(services.store, ConfirmingPublisher(AMQP_URL))

    for message in stored:
        forwarder.forward(forwarded(services, message, door="http"))
    forwarder.close()

    assert [status(services, m) for m in stored] == [MessageStatus.QUEUED.value] * 4
    assert len(queues.take_all(services.topology.route_queue("orders"), 4)) == 4


def test_intake_answers_before_publishing_and_its_forwarder_queues_the_message(
    services: Services, pipeline: Pipeline, messages: MessageFactory, queues: Queues
) -> None:
    outcome = pipeline.submit(messages.signed("ECOM_ORDER"), Transport("http"))

    assert outcome.accepted, outcome.codes
    assert services.forwarder.flush()
    stored = services.store.get(SAMPLE_SENDERS["ECOM_ORDER"], outcome.message_id)
    assert stored is not None and stored.status == MessageStatus.QUEUED.value
    assert services.store.timeline(stored.pk)[-1].actor == "http"
    ((properties, body),) = queues.take_all(services.topology.route_queue("orders"), 1)
    assert body == stored.body and properties.message_id == outcome.message_id


@pytest.mark.stores("sqlite")
def test_a_store_that_cannot_note_the_confirms_leaves_the_messages_accepted_for_the_relay(
    services: Services, pipeline: Pipeline, messages: MessageFactory, queues: Queues, make_forwarder
) -> None:
    stored = recorded_unpublished(pipeline, messages, 2)
    with services.engine.begin() as connection:  # the history table gone: every move fails and rolls back
        connection.exec_driver_sql("DROP TABLE message_history")
    forwarder = make_forwarder()

    for message in stored:
        forwarder.forward(forwarded(services, message))

    assert forwarder.flush()
    assert [status(services, m) for m in stored] == [MessageStatus.ACCEPTED.value] * 2  # the relay sends them again
    assert len(queues.take_all(services.topology.route_queue("orders"), 2)) == 2
