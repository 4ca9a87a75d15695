"""The push topology on the real broker: per-recipient queues and the back-off delay queues."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator

import pytest
from support import AMQP_URL

from gateway.broker.connection import connect
from gateway.broker.publisher import Published, Publisher
from gateway.broker.topology import Topology
from gateway.outbound.outbox import OutboundMessage, publish_outbound

pytestmark = pytest.mark.integration

RECIPIENTS = ("PARTY-A", "PARTY-B")


@pytest.fixture
def topology() -> Iterator[Topology]:
    made = Topology(f"gwtest-{uuid.uuid4().hex[:10]}", ("default",), 10, RECIPIENTS, (300, 900, 900))
    with contextlib.closing(connect(AMQP_URL)) as connection:
        made.declare(connection.channel())
    yield made
    with contextlib.closing(connect(AMQP_URL)) as connection:
        made.delete(connection.channel())


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    made = Publisher(AMQP_URL)
    yield made
    made.close()


def message(recipient: str) -> OutboundMessage:
    return OutboundMessage(1, str(uuid.uuid4()), recipient, "RESULT_NOTICE", "23", "corr", b"<signed/>")


def test_a_message_goes_to_its_recipients_queue_only(topology: Topology, publisher: Publisher, queues) -> None:
    sent = message("PARTY-A")

    assert publish_outbound(publisher, topology, sent) is Published.OK

    ((properties, body),) = queues.take_all(topology.push_queue("PARTY-A"), 1)
    assert (properties.message_id, body) == (sent.message_id, sent.body)
    assert queues.ready(topology.push_queue("PARTY-B")) == 0


def test_a_delayed_message_comes_back_once_to_its_recipient_when_its_wait_is_over(
    topology: Topology, publisher: Publisher, queues
) -> None:
    sent = message("PARTY-B")
    started = time.monotonic()

    assert publish_outbound(publisher, topology, sent, delay_ms=300) is Published.OK

    ((properties, body),) = queues.take_all(topology.push_queue("PARTY-B"), 1, timeout=10)
    assert time.monotonic() - started >= 0.3
    assert (properties.message_id, body) == (sent.message_id, sent.body)
    assert queues.ready(topology.delay_queue(900)) == 0  # it waited in its own step, not in every one
    time.sleep(1.0)
    assert queues.ready(topology.push_queue("PARTY-B")) == 0 and queues.ready(topology.push_queue("PARTY-A")) == 0


def test_a_wait_that_no_step_has_is_refused(topology: Topology, publisher: Publisher) -> None:
    assert publish_outbound(publisher, topology, message("PARTY-A"), delay_ms=1234) is Published.REFUSED


def test_one_queue_per_recipient_and_per_distinct_step(topology: Topology) -> None:
    ns = topology.namespace
    assert topology.queues()[-4:] == [f"{ns}.push.PARTY-A", f"{ns}.push.PARTY-B", f"{ns}.delay.300", f"{ns}.delay.900"]
