"""The confirmed publisher on the real broker: it survives being left idle past its heartbeats."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from support import AMQP_URL, Queues

from gateway.broker.publisher import Published, Publisher

pytestmark = pytest.mark.integration
HEARTBEAT_S = 1


@pytest.fixture
def queue(queues: Queues) -> Iterator[str]:
    name = f"gwtest-publisher-{uuid.uuid4().hex[:10]}"
    queues.channel.queue_declare(name, auto_delete=False)
    yield name
    queues.channel.queue_delete(name)


def test_a_publisher_left_idle_past_its_heartbeats_publishes_at_once(queue: str, queues: Queues) -> None:
    publisher = Publisher(AMQP_URL, heartbeat_s=HEARTBEAT_S)
    try:
        assert publisher.publish("", queue, b"<before/>") is Published.OK
        time.sleep(HEARTBEAT_S * 4)  # the broker closes a connection that missed two heartbeats
        started = time.monotonic()
        assert publisher.publish("", queue, b"<after/>") is Published.OK
        assert time.monotonic() - started < 2.0
    finally:
        publisher.close()
    assert [body for _, body in queues.take_all(queue, 2)] == [b"<before/>", b"<after/>"]

