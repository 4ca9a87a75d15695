"""No queue injection through the AMQP door's `reply_to`: receipts go only to a queue the broker named for the sender.

The door runs in the test's process on its own broker namespace (the real RabbitMQ), with no worker consuming,
so every gateway queue can be looked into after the door has answered.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pika
import pytest
import structlog
from support import AMQP_URL, MessageFactory, wait_until

from app.wiring import Assembly
from conformance import SAMPLE_SENDERS
from gateway import client
from gateway.adapters.amqp import AmqpDoor, may_reply_to
from gateway.broker.connection import connect

pytestmark = pytest.mark.stores("sqlite")

REFUSED = "reply_to refused: not a queue the broker named for the sender; receipt kept in the store only"


@pytest.fixture
def door(assembly: Assembly) -> Iterator[AmqpDoor]:
    running = AmqpDoor(assembly.pipeline())
    thread = threading.Thread(target=running.run, name="amqp-door", daemon=True)
    thread.start()
    yield running
    running.stop()
    thread.join(timeout=10)


def _receipts(channel: pika.adapters.blocking_connection.BlockingChannel, queue: str) -> list[str]:
    """The correlation ids of the receipts (messages with x-receipt-status) in `queue`, which is drained."""
    found = []
    while True:
        method, properties, _ = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return found
        if "x-receipt-status" in (properties.headers or {}):
            found.append(properties.correlation_id)


def test_a_reply_to_naming_any_gateway_queue_is_refused_and_the_message_still_handled(
    assembly: Assembly, door: AmqpDoor, messages: MessageFactory
) -> None:
    topology = assembly.services.topology
    other = f"{topology.namespace}-other"
    targets = [*topology.queues(), f"{other}.inbound", f"{other}.route.orders", "orders", "amq.rabbitmq.trace"]
    connection = connect(AMQP_URL, name="reply-to-test")
    channel = connection.channel()
    sent: dict[str, str] = {}
    try:
        with structlog.testing.capture_logs() as logs:
            for queue in targets:
                sent[queue] = correlation_id = str(uuid.uuid4())
                properties = pika.BasicProperties(
                    content_type="application/xml", reply_to=queue, correlation_id=correlation_id, delivery_mode=2
                )
                channel.basic_publish(topology.inbound_exchange, "", messages.signed("ECOM_ORDER"), properties)
            wait_until(lambda: len([e for e in logs if e["event"] == REFUSED]) == len(targets), timeout=30)
        refused = {entry["reply_to"]: entry for entry in logs if entry["event"] == REFUSED}
        assert set(refused) == set(targets)
        for queue in targets:  # handled as a message without reply_to: accepted, stored, its receipt in the store
            message_id = refused[queue]["message_id"]
            assert refused[queue]["correlation_id"] == sent[queue] and message_id is not None
            assert assembly.services.store.get(SAMPLE_SENDERS["ECOM_ORDER"], message_id) is not None
        for queue in topology.queues():
            if queue != topology.inbound_queue:  # the door itself consumes that one: the refusals above cover it
                assert _receipts(channel, queue) == [], queue
    finally:
        connection.close()


def test_a_direct_reply_to_gets_its_receipt(door: AmqpDoor, assembly: Assembly, messages: MessageFactory) -> None:
    connection = connect(AMQP_URL, name="reply-to-test")
    channel = connection.channel()
    received: list[bytes] = []
    try:
        channel.basic_consume("amq.rabbitmq.reply-to", lambda _c, _m, _p, body: received.append(body), auto_ack=True)
        properties = pika.BasicProperties(
            content_type="application/xml", reply_to="amq.rabbitmq.reply-to", correlation_id=str(uuid.uuid4())
        )
        channel.basic_publish(assembly.services.topology.inbound_exchange, "", messages.signed("ECOM_ORDER"), properties)
        wait_until(lambda: connection.process_data_events(0.2) or received, timeout=30)
        assert client.read_receipt(received[0], assembly.services.trust).accepted
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("queue", "allowed"),
    [
        ("amq.rabbitmq.reply-to", True),
        ("amq.rabbitmq.reply-to.g1h2AA5yZXBseUAxMjM0NTY3OAAAAAAAAAAA", True),
        ("amq.gen-JzTY20BRgKO-HjmUJj0wLg", True),
        ("amq.rabbitmq.reply-tox", False),
        ("amq.rabbitmq.trace", False),
        ("gateway.route.replies", False),
        ("gateway.inbound", False),
        ("", False),
    ],
)
def test_only_queues_the_broker_named_for_the_sender_are_replied_to(queue: str, allowed: bool) -> None:
    assert may_reply_to(queue) is allowed
