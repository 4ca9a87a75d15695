"""Publishing with publisher confirms and `mandatory`, and failing fast while the broker is away.

A `Publisher` belongs to one thread (pika connections are not thread-safe). When
the broker cannot be reached it says so at once (returns False) and does not try
again for `retry_after_s`, so that an outage costs requests nothing: their
messages are already stored and the outbox relay publishes them later.

A blocking connection answers the broker's heartbeats only while it is used, so
one left idle longer than the heartbeat interval is closed by the broker without
the publisher noticing. Before each use a connection idle for more than half the
interval is therefore replaced, and a publication that fails on a connection is
tried once more on a fresh one before the broker is declared unavailable.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass

import pika
import pika.exceptions
import structlog

from gateway.broker.connection import DEFAULT_HEARTBEAT_S, connect

log = structlog.get_logger(__name__)


class Published(enum.Enum):
    """The outcome of one publication."""

    OK = "ok"  # confirmed by the broker
    REFUSED = "refused"  # this message could not be routed or was nacked; others may go through
    BROKER_UNAVAILABLE = "broker-unavailable"  # nothing can be published now


def message_headers(store_id: int | None, sender: str, document_type: str, function: str, digest: str) -> dict[str, object]:
    """The AMQP headers an accepted message travels with (the workers find it in the store by them)."""
    return {
        "x-store-id": store_id,
        "x-sender": sender,
        "x-document-type": document_type,
        "x-function": function,
        "x-digest": digest,
    }


@dataclass(frozen=True)
class Outgoing:
    """One message to publish, with `mandatory`: an unroutable one comes back as REFUSED."""

    exchange: str
    routing_key: str
    body: bytes
    properties: pika.BasicProperties

    @property
    def key(self) -> tuple[str, str, str | None, str | None]:
        """What a returned (unroutable) message is matched to its publication by."""
        return self.exchange, self.routing_key, self.properties.message_id, self.properties.correlation_id


def message_properties(
    message_id: str | None,
    correlation_id: str | None,
    headers: Mapping[str, object] | None = None,
    reply_to: str | None = None,
    content_type: str = "application/xml",
) -> pika.BasicProperties:
    """The properties of everything the gateway publishes: persistent, stamped with the time it was sent."""
    return pika.BasicProperties(
        content_type=content_type,
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=message_id,
        correlation_id=correlation_id,
        reply_to=reply_to,
        headers=dict(headers or {}),
        timestamp=int(time.time()),
    )


class Publisher:
    def __init__(
        self,
        url: str,
        timeout_s: float = 5.0,
        retry_after_s: float = 1.0,
        name: str = "gateway-publisher",
        heartbeat_s: int = DEFAULT_HEARTBEAT_S,
    ):
        self._url = url
        self._timeout_s = timeout_s
        self._retry_after_s = retry_after_s
        self._name = name
        self._heartbeat_s = heartbeat_s
        self._connection: pika.BlockingConnection | None = None
        self._channel = None
        self._down_until = 0.0
        self._last_used = 0.0

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        message_id: str | None = None,
        correlation_id: str | None = None,
        headers: Mapping[str, object] | None = None,
        reply_to: str | None = None,
        content_type: str = "application/xml",
    ) -> Published:
        """Publish and wait for the broker's confirm; `Published.OK` only when the broker took the message."""
        properties = message_properties(message_id, correlation_id, headers, reply_to, content_type)
        return self.send(Outgoing(exchange, routing_key, body, properties))

    def send(self, message: Outgoing) -> Published:
        """Publish `message` and wait for the broker's confirm."""
        for last_try in (False, True):
            channel = self._open_channel()
            if channel is None:
                return Published.BROKER_UNAVAILABLE
            outcome = self._publish_once(channel, message, last_try)
            if outcome is not None:
                return outcome
        return Published.BROKER_UNAVAILABLE

    def _publish_once(self, channel, message: Outgoing, last_try: bool) -> Published | None:  # type: ignore[no-untyped-def]
        """One attempt; None when the connection failed and another attempt on a fresh one may succeed."""
        exchange, routing_key = message.exchange, message.routing_key
        try:
            channel.basic_publish(exchange, routing_key, message.body, message.properties, mandatory=True)
            self._last_used = time.monotonic()
            return Published.OK
        except pika.exceptions.UnroutableError:
            log.error("broker returned the message as unroutable", exchange=exchange, routing_key=routing_key)
            return Published.REFUSED
        except pika.exceptions.NackError:
            log.error("broker refused the message (nack)", exchange=exchange, routing_key=routing_key)
            return Published.REFUSED
        except (pika.exceptions.AMQPError, OSError) as exc:
            if last_try:
                self._fail(exc)
                return Published.BROKER_UNAVAILABLE
            log.info("publisher connection failed; trying a fresh one", error=repr(exc))
            self.close()
            return None

    def ready(self) -> bool:
        """Whether the broker can be reached now (opening the connection if needed)."""
        return self._open_channel() is not None

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (pika.exceptions.AMQPError, OSError):
                pass

    def _open_channel(self):  # type: ignore[no-untyped-def]
        if self._channel is not None and self._channel.is_open:
            if time.monotonic() - self._last_used < self._heartbeat_s / 2:
                return self._channel
            self.close()  # idle past its heartbeats: the broker may have dropped it already
        if time.monotonic() < self._down_until:
            return None
        self.close()
        try:
            self._connection = connect(self._url, self._timeout_s, self._name, self._heartbeat_s)
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
            self._last_used = time.monotonic()
        except (pika.exceptions.AMQPError, OSError) as exc:
            self._fail(exc)
            return None
        return self._channel

    def _fail(self, exc: BaseException) -> None:
        log.warning("broker unavailable", error=repr(exc), retry_after_s=self._retry_after_s)
        self._down_until = time.monotonic() + self._retry_after_s
        self.close()
