"""The worker against the real broker and both stores: routing, idempotence, retries, dead letters, stopping.

Messages enter through the intake pipeline (so they are stored and published exactly
as in production); copies and poison are published by hand with the gateway's own
publisher. Handlers are replaced through `Worker.handlers`, the worker's plain dict of
route -> handler; the broker and the store are always the real ones.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from support import REPO, MessageFactory, wait_until, write_config

from conformance import SAMPLE_SENDERS
from customs.context import Context
from gateway import xmlsafe
from gateway.broker.publisher import message_headers
from gateway.envelope import read_header
from gateway.inbound import InboundMessage
from gateway.lifecycle import MessageStatus
from gateway.pipeline import Pipeline, Transport
from gateway.services import Services
from gateway.store.messages import StoredMessage
from gateway.store.tables import messages as messages_table
from gateway.store.tables import processing
from routing.worker import Worker

HTTP = Transport("http")
RECORD_HANDLER = "routing.handlers.record:handler"

# config/routes.toml, written out: the route each accepted document type must reach
ROUTE_OF = {
    "ECOM_ORDER": "orders",
    "ECOM_DECLARATION": "declarations",
    "INSPECTION_RESULT": "inspection",
    "PLATFORM_REGISTRATION": "platforms",
    "POLICY_NOTICE": "policy",
    "ATIGA_FORM_D": "asean",
    "ACDD": "asean",
    "RECEIPT": "replies",
    "LANE_NOTICE": "replies",
    "RESULT_NOTICE": "replies",
    "RISK_ALERT": "replies",
    "CUSTOMS_RESPONSE": "asean",
    "MESSAGE_QUERY": "replies",
    "MESSAGE_ACK": "replies",
}


def test_the_expected_routes_cover_every_sample() -> None:
    assert set(ROUTE_OF) == set(SAMPLE_SENDERS)


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    """The repository's routes, each with the record handler only: these tests are about the worker's
    machinery (acknowledgement, idempotence, retries), not about what business handlers do."""
    routes = (REPO / "config" / "routes.toml").read_text(encoding="utf-8")
    record_only = re.sub(r"(?m)^handlers = .*$", f'handlers = ["{RECORD_HANDLER}"]', routes)
    (tmp_path / "routes.toml").write_text(record_only, encoding="utf-8")
    return write_config(tmp_path / "config", pki_dir, namespace, registry={"routes": str(tmp_path / "routes.toml")})


# --- helpers ------------------------------------------------------------------


def submit(pipeline: Pipeline, messages: MessageFactory, document_type: str = "ECOM_ORDER") -> StoredMessage:
    """Accept a fresh sample through intake (stored, receipted, published inline)."""
    outcome = pipeline.submit(messages.signed(document_type), HTTP)
    assert outcome.status == 200 and outcome.accepted, outcome.codes
    stored = pipeline.services.store.get(SAMPLE_SENDERS[document_type], outcome.message_id)
    assert stored is not None
    return stored


def republish(services: Services, stored: StoredMessage, body: bytes | None = None, **headers: object) -> None:
    """Publish a copy of a stored message by hand, as the relay or a redelivery would."""
    all_headers = message_headers(stored.pk, stored.sender, stored.document_type, stored.function, stored.digest)
    all_headers.update(headers)
    assert services.publisher().publish(
        services.topology.messages_exchange,
        stored.route,
        stored.body if body is None else body,
        message_id=stored.message_id,
        correlation_id=stored.correlation_id,
        headers=all_headers,
    )


def current(services: Services, stored: StoredMessage) -> StoredMessage:
    found = services.store.get(stored.sender, stored.message_id)
    assert found is not None
    return found


def status(services: Services, stored: StoredMessage) -> str:
    return current(services, stored).status


def row(services: Services, stored: StoredMessage) -> dict:
    with services.engine.connect() as connection:
        return dict(connection.execute(select(messages_table).where(messages_table.c.id == stored.pk)).one()._mapping)


def processing_rows(services: Services, stored: StoredMessage) -> list[dict]:
    with services.engine.connect() as connection:
        return [
            dict(r._mapping) for r in connection.execute(select(processing).where(processing.c.message == stored.pk))
        ]


def processed(services: Services, stored: StoredMessage) -> bool:
    return status(services, stored) == MessageStatus.PROCESSED.value


def wrap(worker: Worker, route: str, before: Callable[[InboundMessage, int], None] | None = None) -> Counter[str]:
    """Replace the route's handler by one that counts calls per message id, runs `before(message, call)`
    (which may raise, or block), then the original handler."""
    (name, original), *rest = worker.handlers[route]
    calls: Counter[str] = Counter()

    def handler(message: InboundMessage, context: Context) -> str:
        calls[message.stored.message_id] += 1
        if before is not None:
            before(message, calls[message.stored.message_id])
        return original(message, context)

    worker.handlers[route] = ((name, handler), *rest)
    return calls


class Gate:
    """A handler step that holds the first message it sees until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, message: InboundMessage, call: int) -> None:
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(30), "the test never released the gate"


# --- routing ------------------------------------------------------------------


def test_every_document_type_reaches_its_route_handler_and_is_processed(
    services: Services, pipeline: Pipeline, messages: MessageFactory, workers, handled, assembly
) -> None:
    """One message of every document type, all waiting at once: each reaches its own route's handler, once."""
    worker = assembly.worker()
    calls = {route: wrap(worker, route) for route in services.routes.names}
    sent = {document_type: submit(pipeline, messages, document_type) for document_type in sorted(ROUTE_OF)}
    assert {document_type: stored.route for document_type, stored in sent.items()} == ROUTE_OF

    workers.start(worker)
    wait_until(lambda: all(processed(services, stored) for stored in sent.values()), timeout=30)

    routed = Counter(ROUTE_OF.values())
    assert {r: dict(c) for r, c in calls.items() if c} == {
        route: {stored.message_id: 1 for stored in sent.values() if stored.route == route} for route in routed
    }
    assert {route: handled(route, "processed") for route in routed} == routed
    # the intake's late "broker confirmed" notes must not step back from processed
    assert services.forwarder.flush()
    for document_type, stored in sent.items():
        header = read_header(xmlsafe.parse(stored.body))
        (done,) = processing_rows(services, stored)
        assert done["handler"] == RECORD_HANDLER, document_type
        assert done["outcome"] == f"recorded {document_type}/{header.function} from {SAMPLE_SENDERS[document_type]}"
        assert done["processed_at"] is not None and row(services, stored)["processed_at"] is not None, document_type
        assert processed(services, stored), document_type
        timeline = services.store.timeline(stored.pk)
        assert [(s.from_status, s.to_status, s.actor) for s in timeline] in (
            [(None, "accepted", "http"), ("accepted", "queued", "http"), ("queued", "processed", "worker")],
            [(None, "accepted", "http"), ("accepted", "processed", "worker")],  # the worker was quicker than the note
        ), document_type
        assert timeline[-1].reason == done["outcome"], document_type


def test_a_worker_consumes_every_route_queue(services: Services, workers, queues) -> None:
    workers.start()
    route_queues = [services.topology.route_queue(route) for route in services.routes.names]
    wait_until(lambda: all(queues.consumers(q) == 1 for q in route_queues), timeout=15)


# --- idempotence ----------------------------------------------------------------


@pytest.mark.parametrize("copies_arrive", ["before the worker starts", "after it was processed"])
def test_a_message_delivered_twice_is_processed_once(
    copies_arrive: str, services: Services, pipeline: Pipeline, messages: MessageFactory, workers, handled, queues, assembly
) -> None:
    worker = assembly.worker()
    calls = wrap(worker, "declarations")
    stored = submit(pipeline, messages, "ECOM_DECLARATION")
    if copies_arrive == "before the worker starts":
        republish(services, stored)
        workers.start(worker)
    else:
        workers.start(worker)
        wait_until(lambda: processed(services, stored), timeout=20)
        republish(services, stored)

    wait_until(lambda: handled("declarations", "processed") + handled("declarations", "duplicate") == 2, timeout=20)

    assert handled("declarations", "processed") == 1 and handled("declarations", "duplicate") == 1
    assert calls == {stored.message_id: 1}
    assert len(processing_rows(services, stored)) == 1
    assert processed(services, stored)
    assert queues.ready(services.topology.dead_letter_queue) == 0
    assert queues.ready(services.topology.route_queue("declarations")) == 0


def test_competing_workers_commit_a_message_once(
    services: Services, pipeline: Pipeline, messages: MessageFactory, workers, handled, queues
) -> None:
    """Several copies spread over two workers at once: the effect is committed once, whoever runs it."""
    stored = submit(pipeline, messages, "ECOM_ORDER")
    for _ in range(5):
        republish(services, stored)
    workers.start()
    workers.start()

    wait_until(lambda: handled("orders", "processed") + handled("orders", "duplicate") == 6, timeout=20)

    assert handled("orders", "processed") == 1
    assert len(processing_rows(services, stored)) == 1
    assert queues.ready(services.topology.dead_letter_queue) == 0


# --- failing handlers -------------------------------------------------------------


def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered(
    services: Services, pipeline: Pipeline, messages: MessageFactory, workers, handled, queues, assembly
) -> None:
    max_attempts = services.settings.broker.max_attempts
    assert max_attempts == 3  # tests/support.py
    bad = submit(pipeline, messages, "ECOM_DECLARATION")
    good = submit(pipeline, messages, "ECOM_DECLARATION")
    other = submit(pipeline, messages, "ECOM_ORDER")

    def fail_for_bad(message: InboundMessage, call: int) -> None:
        if message.stored.message_id == bad.message_id:
            raise RuntimeError(f"customs ledger unavailable for {message.stored.message_id}")

    worker = assembly.worker()
    calls = wrap(worker, "declarations", fail_for_bad)
    workers.start(worker)

    ((properties, body),) = queues.take_all(services.topology.dead_letter_queue, 1)
    reason = f"RuntimeError: customs ledger unavailable for {bad.message_id}"
    assert body == bad.body and properties.message_id == bad.message_id
    assert properties.headers["x-gateway-error"] == reason
    assert properties.headers["x-gateway-attempts"] == max_attempts
    assert properties.headers["x-gateway-route"] == "declarations"
    assert properties.headers["x-sender"] == bad.sender and properties.headers["x-store-id"] == bad.pk
    wait_until(lambda: status(services, bad) == MessageStatus.FAILED.value, timeout=10)
    failed = row(services, bad)
    assert failed["last_error"] == reason and failed["attempts"] == max_attempts
    *_, last = services.store.timeline(bad.pk)
    assert (last.from_status in ("accepted", "queued"), last.to_status, last.actor, last.reason) == (
        True, "failed", "worker", reason
    )
    assert calls[bad.message_id] == max_attempts
    assert handled("declarations", "retried") == max_attempts - 1
    assert handled("declarations", "dead-lettered") == 1
    assert processing_rows(services, bad) == []
    # the others are unaffected
    wait_until(lambda: processed(services, good) and processed(services, other), timeout=20)
    assert calls[good.message_id] == 1
    assert len(processing_rows(services, good)) == 1 and len(processing_rows(services, other)) == 1
    assert queues.ready(services.topology.route_queue("declarations")) == 0


def test_a_handler_that_fails_once_then_succeeds_is_processed_once(
    services: Services, pipeline: Pipeline, messages: MessageFactory, workers, handled, queues, assembly
) -> None:
    stored = submit(pipeline, messages, "INSPECTION_RESULT")

    def fail_first(message: InboundMessage, call: int) -> None:
        if call == 1:
            raise ConnectionError("inspection registry timed out")

    worker = assembly.worker()
    calls = wrap(worker, "inspection", fail_first)
    workers.start(worker)

    wait_until(lambda: processed(services, stored), timeout=20)
    assert calls == {stored.message_id: 2}
    assert len(processing_rows(services, stored)) == 1
    assert handled("inspection", "retried") == 1 and handled("inspection", "processed") == 1
    assert row(services, stored)["last_error"] is None
    assert queues.ready(services.topology.dead_letter_queue) == 0


def test_a_store_outage_uses_up_no_attempt(
    services: Services, pipeline: Pipeline, messages: MessageFactory, workers, handled, queues, assembly
) -> None:
    """More store failures than the attempts allowed: the message waits for the store, and is not dead-lettered."""
    stored = submit(pipeline, messages, "INSPECTION_RESULT")
    outage = services.settings.broker.max_attempts + 1

    def store_away(message: InboundMessage, call: int) -> None:
        if call <= outage:
            raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection unexpectedly"))

    worker = assembly.worker()
    calls = wrap(worker, "inspection", store_away)
    workers.start(worker)

    wait_until(lambda: processed(services, stored), timeout=60)
    assert calls == {stored.message_id: outage + 1}
    assert row(services, stored)["attempts"] == 0 and row(services, stored)["last_error"] is None
    assert handled("inspection", "processed") == 1 and handled("inspection", "dead-lettered") == 0
    assert queues.ready(services.topology.dead_letter_queue) == 0


def test_a_failed_attempt_leaves_no_effect(
    services: Services, pipeline: Pipeline, messages: MessageFactory, workers, assembly
) -> None:
    """The handler's writes and the processing record share one transaction: a failure undoes both."""
    stored = submit(pipeline, messages, "POLICY_NOTICE")
    worker = assembly.worker()
    ((name, original),) = worker.handlers["policy"]
    attempts: list[int] = []

    def half_done_then_fail(message: InboundMessage, context: Context) -> str:
        attempts.append(1)
        context.tx.execute(
            update(messages_table)
            .where(messages_table.c.id == message.stored.pk)
            .values(reference=f"effect of attempt {len(attempts)}")
        )
        if len(attempts) == 1:
            raise RuntimeError("failed after writing")
        return original(message, context)

    worker.handlers["policy"] = ((name, half_done_then_fail),)
    workers.start(worker)

    wait_until(lambda: processed(services, stored), timeout=20)
    assert row(services, stored)["reference"] == "effect of attempt 2"
    assert len(processing_rows(services, stored)) == 1


# --- poison -------------------------------------------------------------------------


POISON = ["not in the store", "bytes differ from the store", "no x-sender header", "no message id"]


@pytest.mark.parametrize("kind", POISON)
def test_a_poison_message_is_dead_lettered_with_its_reason_and_does_not_block_the_queue(
    kind: str, services: Services, pipeline: Pipeline, messages: MessageFactory, workers, handled, queues, assembly
) -> None:
    exchange, route_key = services.topology.messages_exchange, "orders"
    genuine = submit(pipeline, messages, "ECOM_ORDER")
    if kind == "not in the store":
        body = messages.signed("ECOM_ORDER")
        header = read_header(xmlsafe.parse(body))
        message_id = header.message_id
        headers = message_headers(None, header.sender.identity, "ECOM_ORDER", header.function, "00" * 32)
        expected = f"message {header.sender.identity}/{message_id} is not in the store"
    elif kind == "bytes differ from the store":
        body = genuine.body.replace(b"</", b" </", 1)
        message_id = genuine.message_id
        headers = message_headers(genuine.pk, genuine.sender, genuine.document_type, genuine.function, genuine.digest)
        expected = f"the broker copy of {genuine.sender}/{genuine.message_id} differs from the stored bytes"
    elif kind == "no x-sender header":
        body, message_id = genuine.body, genuine.message_id
        headers = message_headers(genuine.pk, genuine.sender, genuine.document_type, genuine.function, genuine.digest)
        del headers["x-sender"]
        expected = "the broker message lacks x-sender or message_id"
    else:
        body, message_id = genuine.body, None
        headers = message_headers(genuine.pk, genuine.sender, genuine.document_type, genuine.function, genuine.digest)
        expected = "the broker message lacks x-sender or message_id"
    assert services.publisher().publish(exchange, route_key, body, message_id=message_id, headers=headers)
    after = submit(pipeline, messages, "ECOM_ORDER")  # queued behind the poison
    worker = assembly.worker()
    calls = wrap(worker, "orders")
    workers.start(worker)

    ((properties, dead_body),) = queues.take_all(services.topology.dead_letter_queue, 1)
    assert dead_body == body and properties.message_id == message_id
    assert properties.headers["x-gateway-error"] == expected
    assert properties.headers["x-gateway-attempts"] == 0  # the handler never ran: the message cannot be processed
    assert properties.headers["x-gateway-route"] == "orders"
    wait_until(lambda: processed(services, genuine) and processed(services, after), timeout=20)
    assert calls == {genuine.message_id: 1, after.message_id: 1}
    assert handled("orders", "dead-lettered") == 1
    # the stored message the poison pretended to be is not blamed for it
    assert row(services, genuine)["last_error"] is None and len(processing_rows(services, genuine)) == 1


# --- stopping -----------------------------------------------------------------------


def test_stop_when_idle_is_prompt(services: Services, workers, queues) -> None:
    running = workers.start()
    wait_until(lambda: queues.consumers(services.topology.route_queue("orders")) == 1, timeout=15)

    assert running.stop() < 3.0
    assert queues.consumers(services.topology.route_queue("orders")) == 0


def test_stop_with_messages_waiting_is_prompt_and_loses_nothing(
    services: Services, pipeline: Pipeline, messages: MessageFactory, workers, handled, queues, assembly
) -> None:
    waiting = [submit(pipeline, messages, "ECOM_ORDER") for _ in range(12)]
    gate = Gate()
    worker = assembly.worker()
    calls = wrap(worker, "orders", gate)
    running = workers.start(worker)
    assert gate.entered.wait(20), "the worker never started on the queue"

    worker.stop()  # while a handler runs and eleven messages wait in its prefetch
    gate.release.set()
    assert running.stop() < 3.0

    (first,) = calls  # only the message in hand when stop() came was handled
    assert [m for m in waiting if processed(services, m)] == [m for m in waiting if m.message_id == first]
    queue = services.topology.route_queue("orders")
    wait_until(lambda: queues.ready(queue) == len(waiting) - 1, timeout=15)  # the rest went back to the queue
    # a new worker takes them all, none twice
    workers.start()
    wait_until(lambda: all(processed(services, m) for m in waiting), timeout=30)
    assert all(len(processing_rows(services, m)) == 1 for m in waiting)
    assert handled("orders", "processed") == len(waiting) and handled("orders", "duplicate") == 0
    assert queues.ready(services.topology.dead_letter_queue) == 0


def test_a_message_handed_back_by_stop_keeps_all_its_attempts(
    services: Services, pipeline: Pipeline, messages: MessageFactory, workers, queues, assembly
) -> None:
    max_attempts = services.settings.broker.max_attempts
    declarations = services.topology.route_queue("declarations")
    holder = submit(pipeline, messages, "ECOM_ORDER")
    # stored now, published only while the worker is busy (on SQLite the busy handler holds the write lock)
    target = submit(pipeline.replacing("forward", lambda intake, services: None), messages, "ECOM_DECLARATION")
    gate = Gate()
    first = assembly.worker()
    wrap(first, "orders", gate)
    first_calls = wrap(first, "declarations")
    running = workers.start(first)
    assert gate.entered.wait(20)
    republish(services, target)
    wait_until(lambda: queues.ready(declarations) == 0, timeout=15)  # delivered to the busy worker, not started
    first.stop()
    gate.release.set()
    running.stop()
    assert first_calls[target.message_id] == 0 and processed(services, holder)
    wait_until(lambda: queues.ready(declarations) == 1, timeout=15)

    def fail_until_last(message: InboundMessage, call: int) -> None:
        if call < max_attempts:
            raise RuntimeError(f"transient failure {call}")

    second = assembly.worker()
    calls = wrap(second, "declarations", fail_until_last)
    workers.start(second)
    wait_until(lambda: status(services, target) in ("processed", "failed"), timeout=30)

    assert calls[target.message_id] == max_attempts
    assert processed(services, target)
