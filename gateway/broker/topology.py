"""The broker topology, declared idempotently at start-up by every process that needs it.

Names are prefixed with the configured namespace, so that two gateways (or two
test runs) can share one broker without meeting:

    {ns}.inbound       fanout exchange: the AMQP door; partners publish signed envelopes here
    {ns}.inbound       quorum queue bound to it, consumed by the AMQP door
    {ns}.messages      direct exchange: accepted messages, routing key = route name
    {ns}.route.<name>  quorum queue per route (routes.toml), consumed by the workers
    {ns}.outbound      topic exchange: the gateway's own signed messages, routing key = recipient
    {ns}.push.<party>  quorum queue per party with an endpoint (parties.toml), bound to it with the
                       party's id, consumed by delivery; messages for parties that pull are not published
    {ns}.delay         headers exchange: a push that failed waits here before its next attempt
    {ns}.delay.<ms>    quorum queue per back-off step, bound by the header gateway-delay-ms; when the time is
                       up the message is dead-lettered back to {ns}.outbound with its routing key
    {ns}.dlx           fanout exchange for messages that keep failing
    {ns}.dead-letter   quorum queue holding them, with the reason in their headers
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pika.adapters.blocking_connection import BlockingChannel

# The back-off step a failed push waits in: {ns}.delay matches on this header. (Not "x-...": a headers
# exchange ignores headers whose names start with "x-", and would copy the message into every step.)
DELAY_HEADER = "gateway-delay-ms"


@dataclass(frozen=True)
class Topology:
    namespace: str
    routes: tuple[str, ...]
    delivery_limit: int = 10
    push_recipients: tuple[str, ...] = ()
    retry_delays_ms: tuple[int, ...] = ()

    @property
    def inbound_exchange(self) -> str:
        return f"{self.namespace}.inbound"

    @property
    def inbound_queue(self) -> str:
        return f"{self.namespace}.inbound"

    @property
    def messages_exchange(self) -> str:
        return f"{self.namespace}.messages"

    @property
    def outbound_exchange(self) -> str:
        return f"{self.namespace}.outbound"

    def push_queue(self, recipient: str) -> str:
        return f"{self.namespace}.push.{recipient}"

    @property
    def delay_exchange(self) -> str:
        return f"{self.namespace}.delay"

    def delay_queue(self, delay_ms: int) -> str:
        return f"{self.namespace}.delay.{delay_ms}"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.namespace}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.namespace}.dead-letter"

    def route_queue(self, route: str) -> str:
        return f"{self.namespace}.route.{route}"

    def queues(self) -> list[str]:
        return [
            self.inbound_queue,
            self.dead_letter_queue,
            *(self.route_queue(r) for r in self.routes),
            *(self.push_queue(p) for p in self.push_recipients),
            *(self.delay_queue(d) for d in sorted(set(self.retry_delays_ms))),
        ]

    def declare(self, channel: BlockingChannel) -> None:
        """Declare every exchange and queue; declaring an existing one with the same arguments is a no-op."""
        channel.exchange_declare(self.inbound_exchange, "fanout", durable=True)
        channel.exchange_declare(self.messages_exchange, "direct", durable=True)
        channel.exchange_declare(self.outbound_exchange, "topic", durable=True)
        channel.exchange_declare(self.delay_exchange, "headers", durable=True)
        channel.exchange_declare(self.dead_letter_exchange, "fanout", durable=True)
        _quorum(channel, self.dead_letter_queue)
        channel.queue_bind(self.dead_letter_queue, self.dead_letter_exchange)
        _quorum(channel, self.inbound_queue, self._dead_lettering())
        channel.queue_bind(self.inbound_queue, self.inbound_exchange)
        for route in self.routes:
            queue = self.route_queue(route)
            _quorum(channel, queue, self._dead_lettering())
            channel.queue_bind(queue, self.messages_exchange, routing_key=route)
        for recipient in self.push_recipients:
            _quorum(channel, self.push_queue(recipient), self._dead_lettering())
            channel.queue_bind(self.push_queue(recipient), self.outbound_exchange, routing_key=recipient)
        for delay_ms in sorted(set(self.retry_delays_ms)):
            _quorum(channel, self.delay_queue(delay_ms), self._waiting(delay_ms))
            channel.queue_bind(
                self.delay_queue(delay_ms), self.delay_exchange, arguments={"x-match": "all", DELAY_HEADER: str(delay_ms)}
            )

    def delete(self, channel: BlockingChannel, extra_queues: Iterable[str] = ()) -> None:
        """Remove the whole topology (for tests and `gateway bench`, which use their own namespace)."""
        for queue in (*self.queues(), *extra_queues):
            channel.queue_delete(queue)
        for exchange in (
            self.inbound_exchange,
            self.messages_exchange,
            self.outbound_exchange,
            self.delay_exchange,
            self.dead_letter_exchange,
        ):
            channel.exchange_delete(exchange)

    def _dead_lettering(self) -> dict[str, object]:
        # The workers dead-letter explicitly, with the reason; the delivery limit is the
        # safety net for a message that crashes its worker before it can say why.
        return {
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-delivery-limit": self.delivery_limit,
        }

    def _waiting(self, delay_ms: int) -> dict[str, object]:
        # Every message of a delay queue waits as long, so they expire in order at its head. At-least-once
        # dead-lettering (which needs reject-publish) so that a message is never lost between the two queues.
        return {
            "x-message-ttl": delay_ms,
            "x-dead-letter-exchange": self.outbound_exchange,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }


def _quorum(channel: BlockingChannel, queue: str, arguments: dict[str, object] | None = None) -> None:
    channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum", **(arguments or {})})
