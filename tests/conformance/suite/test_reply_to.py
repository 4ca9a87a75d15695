"""A reply_to naming a queue of the run's own choosing: our gateway publishes nothing there and still takes the
message in; a door that replies wherever it is told fails the case."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator

import pytest
from support import AMQP_URL, LiveGateway

from conformance.suite.builder import Builder
from conformance.suite.doors import AmqpDoor
from conformance.suite.manifest import Suite
from conformance.suite.results import CaseResult, Status
from conformance.suite.runner import Runner
from conformance.suite.verdict import ReceiptCheck
from gateway.broker.connection import connect
from gateway.services import Services
from gateway.signing.trust import TrustStore

from ..conftest import SuiteIdentities

pytestmark = [pytest.mark.integration, pytest.mark.stores("sqlite")]
CASE = "transport.amqp-reply-to-ordinary-queue"
QUIET_S = 1.5


def run_case(exchange: str, suite: Suite, builder: Builder, suite_identities: SuiteIdentities) -> CaseResult:
    door = AmqpDoor(AMQP_URL, exchange, timeout=10.0, quiet_s=QUIET_S)
    try:
        runner = Runner(door, builder, ReceiptCheck(TrustStore.from_files([suite_identities.ca])))
        return runner.run_case(suite.select(only=[CASE])[0])
    finally:
        door.close()


def test_our_gateway_delivers_nothing_to_the_queue_and_takes_the_message_in(
    own_gateway: LiveGateway, services: Services, suite: Suite, builder: Builder, suite_identities: SuiteIdentities
) -> None:
    result = run_case(services.topology.inbound_exchange, suite, builder, suite_identities)

    assert result.status is Status.PASSED, result.failure_message()
    assert [step.actual for step in result.steps] == ["nothing delivered", "accepted (HTTP 200)"]
    assert "reply_to refused" in own_gateway.log()


@contextlib.contextmanager
def echoing_door() -> Iterator[str]:
    """An inbound exchange whose 'gateway' publishes every message back to its reply_to, whatever it names."""
    exchange = f"conformance-test.{uuid.uuid4()}"
    connection = connect(AMQP_URL)
    channel = connection.channel()
    channel.exchange_declare(exchange, "fanout", auto_delete=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, exchange)
    stop = threading.Event()

    def echo() -> None:
        while not stop.is_set():
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                connection.sleep(0.05)
            else:
                channel.basic_publish("", properties.reply_to, body, properties)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    try:
        yield exchange
    finally:
        stop.set()
        thread.join()
        channel.exchange_delete(exchange)
        connection.close()


def test_a_door_that_replies_wherever_it_is_told_fails_the_case(
    suite: Suite, builder: Builder, suite_identities: SuiteIdentities
) -> None:
    with echoing_door() as exchange:
        result = run_case(exchange, suite, builder, suite_identities)

    assert result.status is Status.FAILED
    assert result.failure_message() == (
        "step 'ordinary-queue': a message was delivered to the queue named in reply_to, which the run named itself"
    )
