"""The outbox relay and the topology, on both stores and the real broker.

Messages are made "accepted but never published" in the two ways that happen in
production: intake while the broker is unreachable, and a bare store record (the
process died between recording and publishing).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable, Iterator

import pika
import pika.exceptions
import pytest
from support import AMQP_URL, MessageFactory, wait_until

from conformance import SAMPLE_SENDERS
from gateway import client, xmlsafe
from gateway.broker.connection import connect
from gateway.broker.relay import OutboxRelay
from gateway.envelope import read_header
from gateway.lifecycle import INBOUND, MessageStatus, transition
from gateway.pipeline import Pipeline, Transport
from gateway.services import Services, make_forwarder
from gateway.store.engine import writing
from gateway.store.messages import NewMessage, StoredMessage

HTTP = Transport("http")
UNREACHABLE = "amqp://guest:guest@127.0.0.1:1/%2F"
NO_GRACE = dt.timedelta(0)

# (document type, the route that config/routes.toml gives it)
SPREAD = [("ECOM_ORDER", "orders"), ("ECOM_DECLARATION", "declarations"), ("ACDD", "asean")]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def with_broker(services: Services, **broker: object) -> Services:
    """A copy of `services` with other broker settings (same store, same namespace).

    `_local` and the forwarder are made anew: `dataclasses.replace` would otherwise share the
    original's, already connected to the real broker.
    """
    settings = dataclasses.replace(services.settings, broker=dataclasses.replace(services.settings.broker, **broker))
    forwarder = make_forwarder(settings.broker, services.store)
    return dataclasses.replace(services, settings=settings, _local=threading.local(), forwarder=forwarder)


@pytest.fixture
def broker_down(services: Services) -> Iterator[Services]:
    down = with_broker(services, url=UNREACHABLE)
    yield down
    down.publisher().close()
    down.forwarder.close()


@pytest.fixture
def relays(services: Services) -> Iterator[Callable[[Services], OutboxRelay]]:
    """OutboxRelay factory; closes their publishers afterwards."""
    made: list[OutboxRelay] = []

    def make(on: Services = services) -> OutboxRelay:
        made.append(OutboxRelay(on))
        return made[-1]

    yield make
    for relay in made:
        relay.publisher.close()


def accepted_message(services: Services, body: bytes, received_at: dt.datetime) -> NewMessage:
    """What intake would record for `body` (routed by the routing table, with a signed receipt)."""
    header = read_header(xmlsafe.parse(body))
    digest = hashlib.sha256(body).digest()
    route = services.routes.route_for(header.document_type, header.function)
    assert route is not None
    return NewMessage.of(
        header,
        body=body,
        digest=digest.hex(),
        receipt=services.receipts.acceptance(header, digest, received_at).body,
        route=route.name,
        correlation_id=header.message_id,
        door="http",
    )


def record(
    services: Services, messages: MessageFactory, document_type: str = "ECOM_ORDER", route: str | None = None
) -> StoredMessage:
    new = accepted_message(services, messages.signed(document_type), now())
    if route is not None:
        new = dataclasses.replace(new, route=route)
    recorded = services.store.record(new, now())
    assert recorded.new
    stored = services.store.get(new.sender, new.message_id)
    assert stored is not None
    return stored


def status(services: Services, stored: StoredMessage) -> str:
    current = services.store.get(stored.sender, stored.message_id)
    assert current is not None
    return current.status


def assert_carries(properties: pika.BasicProperties, body: bytes, stored: StoredMessage) -> None:
    """The broker copy is the stored message, with the headers the workers find it by."""
    assert body == stored.body
    assert properties.message_id == stored.message_id
    assert properties.correlation_id == stored.correlation_id
    assert properties.delivery_mode == pika.DeliveryMode.Persistent.value
    gateway_headers = {k: v for k, v in properties.headers.items() if k != "x-delivery-count"}  # the broker's own
    assert gateway_headers == {
        "x-store-id": stored.pk,
        "x-sender": stored.sender,
        "x-document-type": stored.document_type,
        "x-function": stored.function,
        "x-digest": stored.digest,
    }


# --- accepted while the broker is away ----------------------------------------


def test_intake_with_the_broker_down_accepts_and_the_relay_publishes_later(
    services: Services, broker_down: Services, messages: MessageFactory, queues, relays
) -> None:
    pipeline = Pipeline(broker_down)
    submitted = {}
    for document_type, route in SPREAD:
        outcome = pipeline.submit(messages.signed(document_type), HTTP)
        assert outcome.status == 200 and outcome.accepted, outcome.codes
        receipt = client.read_receipt(outcome.receipt, services.trust)
        assert receipt.status == "ACCEPTED" and receipt.received_message_id == outcome.message_id
        stored = services.store.get(SAMPLE_SENDERS[document_type], outcome.message_id)
        assert stored is not None and stored.route == route
        submitted[route] = stored
    assert broker_down.forwarder.flush()
    assert all(status(services, s) == MessageStatus.ACCEPTED.value for s in submitted.values())
    assert all(queues.ready(services.topology.route_queue(route)) == 0 for route in submitted)

    published = relays(services).relay_once(grace=NO_GRACE)

    assert published == 3
    for route, stored in submitted.items():
        ((properties, body),) = queues.take_all(services.topology.route_queue(route), 1)
        assert_carries(properties, body, stored)
        assert status(services, stored) == MessageStatus.QUEUED.value
    assert relays(services).relay_once(grace=NO_GRACE) == 0, "nothing is published twice by the relay"


def test_messages_recorded_but_never_published_are_relayed_oldest_first(
    services: Services, messages: MessageFactory, queues, relays
) -> None:
    stored = [record(services, messages) for _ in range(4)]

    assert relays(services).relay_once(grace=NO_GRACE) == 4

    taken = queues.take_all(services.topology.route_queue("orders"), 4)
    assert [properties.message_id for properties, _ in taken] == [s.message_id for s in stored]
    for (properties, body), message in zip(taken, stored, strict=True):
        assert_carries(properties, body, message)
        assert status(services, message) == MessageStatus.QUEUED.value
        entered, queued = services.store.timeline(message.pk)
        assert (entered.from_status, entered.to_status) == (None, "accepted")
        assert (queued.from_status, queued.to_status, queued.actor) == ("accepted", "queued", "relay")


def test_the_relay_with_the_broker_down_publishes_nothing_and_keeps_everything(
    services: Services, broker_down: Services, messages: MessageFactory, queues, relays
) -> None:
    stored = [record(services, messages) for _ in range(3)]
    down_relay = relays(broker_down)

    assert down_relay.relay_once(grace=NO_GRACE) == 0
    assert down_relay.relay_once(grace=NO_GRACE) == 0

    assert all(status(services, s) == MessageStatus.ACCEPTED.value for s in stored)
    assert queues.ready(services.topology.route_queue("orders")) == 0
    # the broker is back (for a relay that can reach it): all of them go, none was lost
    assert relays(services).relay_once(grace=NO_GRACE) == 3
    assert {p.message_id for p, _ in queues.take_all(services.topology.route_queue("orders"), 3)} == {
        s.message_id for s in stored
    }


def test_a_fresh_message_waits_out_the_grace_period(
    services: Services, messages: MessageFactory, queues, relays
) -> None:
    stored = record(services, messages)
    relay = relays(services)

    assert relay.relay_once(grace=dt.timedelta(hours=1)) == 0
    assert status(services, stored) == MessageStatus.ACCEPTED.value
    assert queues.ready(services.topology.route_queue("orders")) == 0

    assert relay.relay_once(grace=NO_GRACE) == 1
    assert status(services, stored) == MessageStatus.QUEUED.value


def test_the_configured_grace_period_is_the_default(services: Services, messages: MessageFactory, relays) -> None:
    grace = services.settings.broker.relay_grace_s
    assert grace >= 1.0  # tests/support.py configures 1 s
    received_at = now()
    stored = record(services, messages)
    relay = relays(services)

    wait_until(lambda: relay.relay_once() == 1, timeout=grace + 10, interval=0.1)

    assert now() - received_at >= dt.timedelta(seconds=grace)
    assert status(services, stored) == MessageStatus.QUEUED.value


def test_only_unconfirmed_messages_are_relayed(services: Services, messages: MessageFactory, queues, relays) -> None:
    queued, processed, failed, accepted = (record(services, messages) for _ in range(4))
    services.store.mark_queued([queued.pk], now(), "http")
    services.store.mark_failed(failed.pk, "RuntimeError: boom", now(), "worker")
    with writing(services.engine) as tx:  # a worker took it before its confirm was noted
        transition(tx, INBOUND, processed.pk, MessageStatus.PROCESSED, actor="worker", at=now())

    assert relays(services).relay_once(grace=NO_GRACE) == 1

    ((properties, _),) = queues.take_all(services.topology.route_queue("orders"), 1)
    assert properties.message_id == accepted.message_id
    assert status(services, processed) == MessageStatus.PROCESSED.value
    assert status(services, failed) == MessageStatus.FAILED.value


def test_one_round_takes_at_most_a_batch(services: Services, messages: MessageFactory, queues, relays) -> None:
    stored = [record(services, messages) for _ in range(5)]
    relay = relays(with_broker(services, relay_batch=2))

    assert [relay.relay_once(grace=NO_GRACE) for _ in range(4)] == [2, 2, 1, 0]
    taken = queues.take_all(services.topology.route_queue("orders"), 5)
    assert [p.message_id for p, _ in taken] == [s.message_id for s in stored]


def test_an_unroutable_message_does_not_block_the_outbox(
    services: Services, messages: MessageFactory, queues, relays
) -> None:
    record(services, messages, route="retired")  # its route has no queue any more
    later = [record(services, messages) for _ in range(2)]
    relay = relays(services)

    relay.relay_once(grace=NO_GRACE)
    relay.relay_once(grace=NO_GRACE)

    assert [status(services, s) for s in later] == [MessageStatus.QUEUED.value] * 2
    assert queues.ready(services.topology.route_queue("orders")) == 2


def test_the_relay_thread_publishes_in_the_background_and_stops(
    services: Services, broker_down: Services, messages: MessageFactory, queues, relays
) -> None:
    relay = relays(services)
    thread = threading.Thread(target=relay.run, name="test-relay")
    thread.start()
    try:
        outcome = Pipeline(broker_down).submit(messages.signed("ECOM_ORDER"), HTTP)
        assert outcome.accepted
        stored = services.store.get(SAMPLE_SENDERS["ECOM_ORDER"], outcome.message_id)
        assert stored is not None

        wait_until(lambda: status(services, stored) == MessageStatus.QUEUED.value, timeout=15)

        ((properties, body),) = queues.take_all(services.topology.route_queue("orders"), 1)
        assert_carries(properties, body, stored)
    finally:
        relay.stop()
        started = time.monotonic()
        thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - started < services.settings.broker.relay_interval_s + 5


# --- the topology -------------------------------------------------------------


def test_declaring_the_topology_twice_is_harmless(services: Services, messages: MessageFactory, queues) -> None:
    topology = services.topology
    record(services, messages)
    assert services.publisher().publish(topology.messages_exchange, "orders", b"<kept/>", message_id="kept")

    connection = connect(AMQP_URL)
    try:
        channel = connection.channel()
        topology.declare(channel)  # the services fixture declared it once already
        topology.declare(channel)
        for queue in topology.queues():
            channel.queue_declare(queue, passive=True)
    finally:
        connection.close()

    assert queues.ready(topology.dead_letter_queue) == 0
    ((properties, body),) = queues.take_all(topology.route_queue("orders"), 1)
    assert (properties.message_id, body) == ("kept", b"<kept/>")  # declaring again kept what was queued


def test_the_topology_names_one_queue_per_route(services: Services) -> None:
    topology = services.topology
    ns = services.settings.broker.namespace
    assert topology.routes == services.routes.names
    assert set(topology.routes) == {
        "orders",
        "declarations",
        "inspection",
        "platforms",
        "policy",
        "asean",
        "replies",
        "default",
    }
    # No party of config/parties.toml has an endpoint: no push queues, and no delay queues for them.
    assert topology.queues() == [f"{ns}.inbound", f"{ns}.dead-letter", *(f"{ns}.route.{r}" for r in topology.routes)]


def test_a_route_queue_with_other_arguments_is_refused_not_changed(services: Services) -> None:
    """Declaring is idempotent only for the same arguments; the broker refuses a change."""
    stricter = dataclasses.replace(services.topology, delivery_limit=services.topology.delivery_limit + 1)
    connection = connect(AMQP_URL)
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            stricter.declare(connection.channel())
        assert refused.value.reply_code == 406  # PRECONDITION_FAILED
    finally:
        connection.close()


def test_a_route_queue_dead_letters_to_the_gateway_exchange(services: Services, queues) -> None:
    """The broker's own safety net: a message rejected without requeue lands in {ns}.dead-letter."""
    topology = services.topology
    assert services.publisher().publish(topology.messages_exchange, "policy", b"<x/>", message_id="dropped")
    channel = queues.channel
    method = wait_until(lambda: channel.basic_get(topology.route_queue("policy"))[0], timeout=10, interval=0.05)
    channel.basic_reject(method.delivery_tag, requeue=False)

    ((properties, body),) = queues.take_all(topology.dead_letter_queue, 1)
    assert (properties.message_id, body) == ("dropped", b"<x/>")
