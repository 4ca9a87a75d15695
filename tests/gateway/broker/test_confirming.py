"""Batches published with their confirms in flight, on the real broker: one outcome per message, in order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from support import AMQP_URL, Queues

from gateway.broker.confirming import ConfirmingPublisher
from gateway.broker.publisher import Outgoing, Published, message_properties

pytestmark = pytest.mark.integration
UNREACHABLE = "amqp://guest:guest@127.0.0.1:1/%2F"


def outgoing(exchange: str, routing_key: str, n: int) -> Outgoing:
    return Outgoing(exchange, routing_key, f"<m n='{n}'/>".encode(), message_properties(f"m-{n}", f"c-{n}"))


@pytest.fixture
def name() -> str:
    return f"gwtest-confirming-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def queue(queues: Queues, name: str) -> Iterator[str]:
    queues.channel.queue_declare(name)
    yield name
    queues.channel.queue_delete(name)


@pytest.fixture
def publisher() -> Iterator[ConfirmingPublisher]:
    made = ConfirmingPublisher(AMQP_URL, timeout_s=5.0)
    yield made
    made.close()


def test_a_batch_is_confirmed_message_by_message_and_arrives_in_order(
    publisher: ConfirmingPublisher, queue: str, queues: Queues
) -> None:
    batch = [outgoing("", queue, n) for n in range(300)]

    assert publisher.publish_many(batch) == [Published.OK] * 300
    assert publisher.publish_many(batch[:2]) == [Published.OK] * 2  # the link is kept for the next batch

    taken = queues.take_all(queue, 302)
    assert [body for _, body in taken[:300]] == [m.body for m in batch]
    assert taken[0][0].message_id == "m-0" and taken[0][0].delivery_mode == 2


def test_only_the_unroutable_messages_of_a_batch_are_refused(
    publisher: ConfirmingPublisher, queue: str, queues: Queues, name: str
) -> None:
    exchange = f"{name}.x"
    queues.channel.exchange_declare(exchange, "direct")
    queues.channel.queue_bind(queue, exchange, routing_key="known")
    try:
        batch = [outgoing(exchange, "known" if n % 3 else "nowhere", n) for n in range(9)]

        outcomes = publisher.publish_many(batch)

        assert outcomes == [Published.REFUSED if n % 3 == 0 else Published.OK for n in range(9)]
        assert sorted(body for _, body in queues.take_all(queue, 6)) == sorted(m.body for m in batch if m.routing_key == "known")
    finally:
        queues.channel.exchange_delete(exchange)


def test_messages_the_broker_nacks_are_refused(publisher: ConfirmingPublisher, queues: Queues, name: str) -> None:
    queues.channel.queue_declare(name, arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
    try:
        outcomes = publisher.publish_many([outgoing("", name, n) for n in range(5)])

        assert outcomes == [Published.OK, Published.OK] + [Published.REFUSED] * 3
    finally:
        queues.channel.queue_delete(name)


def test_a_channel_the_broker_closes_fails_its_batch_and_the_next_batch_reconnects(
    publisher: ConfirmingPublisher, queue: str, queues: Queues, name: str
) -> None:
    # publishing to an exchange that does not exist makes the broker close the channel (404)
    outcomes = publisher.publish_many([outgoing("", queue, 0), outgoing(f"{name}.missing", "x", 1), outgoing("", queue, 2)])

    assert outcomes[1:] == [Published.BROKER_UNAVAILABLE] * 2
    assert outcomes[0] in (Published.OK, Published.BROKER_UNAVAILABLE)  # confirmed or not before the close
    assert publisher.publish_many([outgoing("", queue, 3)]) == [Published.OK]


def test_an_unreachable_broker_leaves_every_message_unpublished() -> None:
    publisher = ConfirmingPublisher(UNREACHABLE, timeout_s=2.0, retry_after_s=60.0)
    try:
        assert publisher.publish_many([outgoing("", "q", 0)]) == [Published.BROKER_UNAVAILABLE]
        assert publisher.publish_many([outgoing("", "q", 1)] * 3) == [Published.BROKER_UNAVAILABLE] * 3
        assert publisher.publish_many([]) == []
    finally:
        publisher.close()
