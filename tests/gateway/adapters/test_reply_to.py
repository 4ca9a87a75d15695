"""No injection through AMQP `reply_to`: the door replies only to a queue the sender may own.

The door runs in process on the test's broker namespace (real RabbitMQ). A signed sample is
published with `reply_to` naming each of the gateway's own queues, and a queue of another
namespace: none of them receives anything, and the message is still taken in (stored, its
receipt kept). A server-named queue and RabbitMQ's direct reply-to get their receipts.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pika
import pytest
from support import AMQP_URL, MessageFactory, Queues, wait_until

from app.wiring import Assembly
from conformance import SAMPLE_SENDERS
from gateway.adapters.amqp import AmqpDoor
from gateway.adapters.reply_to import may_reply_to
from gateway.broker.connection import connect

DOCUMENT = "ECOM_ORDER"


@pytest.fixture
def door(assembly: Assembly) -> Iterator[AmqpDoor]:
    running = AmqpDoor(assembly.pipeline())
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    yield running
    running.stop()
    thread.join(timeout=10)


@pytest.fixture
def partner() -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    connection = connect(AMQP_URL, name="test-partner")
    yield connection.channel()
    connection.close()


def _publish(channel, exchange: str, body: bytes, reply_to: str) -> str:  # type: ignore[no-untyped-def]
    correlation_id = str(uuid.uuid4())
    properties = pika.BasicProperties(content_type="application/xml", reply_to=reply_to, correlation_id=correlation_id)
    channel.basic_publish(exchange, "", body, properties)
    return correlation_id


def test_only_broker_given_names_are_allowed() -> None:
    assert may_reply_to("amq.rabbitmq.reply-to.g1h2AA5yZXBseUAxMjM0NTY3OAAAAAAAAAABAAAAAGXpdw==")
    assert may_reply_to("amq.gen-JzTY20BRgKO-HjmUJj0wLg")
    for refused in ("", "amq.gen-", "amq.rabbitmq.reply-to", "gateway.inbound", "gateway.route.replies", "amq.direct", "x.amq.gen-1"):
        assert not may_reply_to(refused), refused


def test_every_gateway_queue_as_reply_to_gets_nothing_and_the_message_is_still_taken_in(
    assembly: Assembly, door: AmqpDoor, partner, messages: MessageFactory, queues: Queues  # type: ignore[no-untyped-def]
) -> None:
    topology = assembly.services.topology
    other = f"gwtest-{uuid.uuid4().hex[:10]}.route.replies"  # another gateway's queue on the same broker
    partner.queue_declare(other, auto_delete=True)
    targets = [*topology.queues(), other]
    wait_until(lambda: queues.consumers(topology.inbound_queue) == 1)
    sent = []
    for target in targets:
        root = messages.envelope(DOCUMENT)
        sent.append(root.findtext(".//{*}messageId"))
        _publish(partner, topology.inbound_exchange, messages.sign(root, SAMPLE_SENDERS[DOCUMENT]), target)
    store = assembly.services.store
    wait_until(lambda: all(store.get(SAMPLE_SENDERS[DOCUMENT], m) is not None for m in sent))
    wait_until(lambda: queues.ready(topology.inbound_queue) == 0)
    route_queues = {topology.route_queue(r) for r in topology.routes}
    for target in targets:
        if target not in route_queues:  # a route queue holds the accepted messages themselves
            assert queues.ready(target) == 0, target
    for route_queue in route_queues:
        bodies = [body for _, body in queues.take_all(route_queue, queues.ready(route_queue), timeout=5)]
        assert all(b"<rc:Receipt" not in body and b"Receipt>" not in body for body in bodies), route_queue


def test_a_server_named_queue_and_direct_reply_to_get_the_receipt(
    assembly: Assembly, door: AmqpDoor, partner, messages: MessageFactory, queues: Queues  # type: ignore[no-untyped-def]
) -> None:
    topology = assembly.services.topology
    wait_until(lambda: queues.consumers(topology.inbound_queue) == 1)
    own = partner.queue_declare("", exclusive=True).method.queue
    received: list[bytes] = []
    partner.basic_consume("amq.rabbitmq.reply-to", lambda ch, m, p, body: received.append(body), auto_ack=True)
    _publish(partner, topology.inbound_exchange, messages.signed(DOCUMENT), own)
    _publish(partner, topology.inbound_exchange, messages.signed(DOCUMENT), "amq.rabbitmq.reply-to")

    def both() -> bool:
        partner.connection.process_data_events(time_limit=0.1)
        method, _, body = partner.basic_get(own, auto_ack=True)
        if method is not None:
            received.append(body)
        return len(received) == 2

    wait_until(both)
    assert all(b"Receipt" in body for body in received)
