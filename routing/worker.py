"""The worker: consumes the route queues and runs each message's handler.

Guarantees:
- a message is acknowledged only after its handlers' effects, the messages they
  emit and the processing records are committed together (one transaction);
- what the handlers emitted is published to the outbound exchange after the
  commit (the outbox relay publishes whatever this could not);
- a redelivered or republished message whose processing record exists is
  acknowledged without running the handler again (idempotence);
- a message that keeps failing is published to the dead-letter exchange with the
  reason in its headers, marked failed in the store, and only then acknowledged.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from dataclasses import dataclass

import pika
import pika.exceptions
import structlog
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties
from sqlalchemy.exc import OperationalError

from customs.rules import Rules
from gateway import metrics
from gateway.broker.consumer import ConsumerLoop
from gateway.exceptions import PoisonMessage
from gateway.services import Services
from gateway.store.messages import StoredMessage
from routing.processing import NamedHandler, process
from routing.publication import publish_emitted
from routing.table import Route, RoutingTable, load_handler

log = structlog.get_logger(__name__)
STORE_RETRY_S = 1.0  # how long a message waits before it goes back to its queue while the store is away
ACTOR = "worker"  # in the messages' history


@dataclass(frozen=True)
class Delivery:
    route: Route
    handlers: tuple[NamedHandler, ...]
    method: Basic.Deliver
    properties: BasicProperties
    body: bytes


class Worker:
    def __init__(self, services: Services, routes: RoutingTable, rules: Rules) -> None:
        self.services = services
        self.routes = routes
        self.rules = rules
        self.handlers: dict[str, tuple[NamedHandler, ...]] = {
            route.name: tuple((name, load_handler(name)) for name in route.handlers)  # type: ignore[misc]
            for route in routes.routes
        }
        self._loop = ConsumerLoop(services.settings.broker, services.topology, "worker")

    def run(self) -> None:
        """Consume until `stop()` (or SIGTERM/SIGINT), reconnecting when the broker goes away."""
        self._loop.run(self._start)

    def stop(self, *_: object) -> None:
        self._loop.stop()

    def _start(self, connection: pika.BlockingConnection) -> None:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_qos(prefetch_count=self.services.settings.broker.prefetch)
        for route in self.routes.routes:
            channel.basic_consume(self.services.topology.route_queue(route.name), self._callback(channel, route))

    def _callback(self, channel: BlockingChannel, route: Route) -> Callable[..., None]:
        def on_message(ch: BlockingChannel, method: Basic.Deliver, properties: BasicProperties, body: bytes) -> None:
            if self._loop.stopping.is_set():
                return  # left unacknowledged: the broker requeues it when the connection closes
            self.handle(ch, Delivery(route, self.handlers[route.name], method, properties, body))

        return on_message

    def handle(self, channel: BlockingChannel, delivery: Delivery) -> None:
        headers = delivery.properties.headers or {}
        bound = log.bind(
            route=delivery.route.name,
            message_id=delivery.properties.message_id,
            correlation_id=delivery.properties.correlation_id,
            sender=headers.get("x-sender"),
        )
        try:
            stored = self._stored(delivery)
        except PoisonMessage as exc:
            bound.error("poison message", error=str(exc))
            self._dead_letter(channel, delivery, str(exc), attempts=0)
            return
        try:
            outcome = self._process(delivery, stored)
        except OperationalError as exc:  # the store went away: not the message's fault, so no attempt is used up
            bound.warning("the store is unavailable; the message goes back to its queue", error=str(exc.orig))
            channel.connection.sleep(STORE_RETRY_S)
            channel.basic_nack(delivery.method.delivery_tag, requeue=True)
            return
        except Exception as exc:  # a handler failure: retry, then dead-letter
            reason = f"{type(exc).__name__}: {exc}"
            # Attempts are counted in the store: a delivery handed back unstarted (a stopping
            # worker, a lost connection) is not a failure and must not use one up.
            attempt = self.services.store.note_failure(stored.pk, reason)
            if attempt >= self.services.settings.broker.max_attempts:
                bound.exception("handler failed for the last time; dead-lettering", attempt=attempt)
                # The store first: should it fail, the message stays unacknowledged and comes back.
                # A refused move (another copy was processed or failed meanwhile) changes nothing
                # in the store; this copy still goes to the dead letters with its reason.
                if not self.services.store.mark_failed(stored.pk, reason, dt.datetime.now(dt.UTC), ACTOR):
                    bound.warning("the message was processed or failed meanwhile; the store keeps that state")
                self._dead_letter(channel, delivery, reason, attempt)
            else:
                bound.warning("handler failed; will retry", attempt=attempt, error=repr(exc))
                metrics.HANDLED.labels(delivery.route.name, "retried").inc()
                channel.connection.sleep(min(0.1 * 2**attempt, 2.0))
                channel.basic_nack(delivery.method.delivery_tag, requeue=True)
            return
        channel.basic_ack(delivery.method.delivery_tag)
        metrics.HANDLED.labels(delivery.route.name, outcome).inc()
        bound.info("message processed", outcome=outcome)

    def _process(self, delivery: Delivery, stored: StoredMessage) -> str:
        """Run the route's handlers once per message, then publish what they emitted."""
        processed = process(self.services, self.rules, stored, delivery.handlers, ACTOR)
        publish_emitted(self.services, processed.emitted)
        return processed.outcome

    def _stored(self, delivery: Delivery) -> StoredMessage:
        headers = delivery.properties.headers or {}
        sender, message_id = headers.get("x-sender"), delivery.properties.message_id
        if not sender or not message_id:
            raise PoisonMessage("the broker message lacks x-sender or message_id")
        stored = self.services.store.get(str(sender), str(message_id))
        if stored is None:
            raise PoisonMessage(f"message {sender}/{message_id} is not in the store")
        if not hmac.compare_digest(stored.body, delivery.body):
            raise PoisonMessage(f"the broker copy of {sender}/{message_id} differs from the stored bytes")
        return stored

    def _dead_letter(self, channel: BlockingChannel, delivery: Delivery, reason: str, attempts: int) -> None:
        headers = {
            **(delivery.properties.headers or {}),
            "x-gateway-error": reason[:1000],
            "x-gateway-attempts": attempts,
            "x-gateway-route": delivery.route.name,
        }
        properties = pika.BasicProperties(
            content_type=delivery.properties.content_type,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=delivery.properties.message_id,
            correlation_id=delivery.properties.correlation_id,
            headers=headers,
        )
        channel.basic_publish(self.services.topology.dead_letter_exchange, "", delivery.body, properties)
        channel.basic_ack(delivery.method.delivery_tag)
        metrics.HANDLED.labels(delivery.route.name, "dead-lettered").inc()
