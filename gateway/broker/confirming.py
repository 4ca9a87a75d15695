"""Publishing a batch with all its confirms in flight at once: one round trip per batch, not per message.

`Publisher` waits for each message's confirm before it sends the next (pika's blocking
adapter has no other way), which costs a round trip to the broker and a turn of its
I/O loop per message. Here a pika `SelectConnection` runs its I/O loop in a thread of
its own; `publish_many` hands it a batch, which it sends at once, and waits until the
broker has answered for every message of it: confirmed, returned as unroutable, or
nacked. The caller gets one outcome per message, as from `Publisher.publish`.

A returned message is matched to its publication by (exchange, routing key, message
id, correlation id), the oldest one in flight first: RabbitMQ sends the return before
the confirm of the same message, and two messages with the same key route alike.

When the broker cannot be reached, or the connection breaks with messages in flight,
those messages are `BROKER_UNAVAILABLE` (they stay in the store for the relay) and no
new connection is tried for `retry_after_s`, so that an outage costs little.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pika
import pika.exceptions
import structlog
from pika.channel import Channel
from pika.frame import Method
from pika.spec import Basic, BasicProperties

from gateway.broker.connection import DEFAULT_HEARTBEAT_S, parameters
from gateway.broker.publisher import Outgoing, Published
from gateway.threads import start_thread

log = structlog.get_logger(__name__)
_BROKEN_CHECK_S = 0.05


class _Batch:
    """The outcomes of one `publish_many` call, filled in by the I/O thread."""

    def __init__(self, size: int) -> None:
        self.outcomes: list[Published | None] = [None] * size
        self._open = size
        self._lock = threading.Lock()
        self.done = threading.Event()
        if size == 0:
            self.done.set()

    def settle(self, index: int, outcome: Published) -> None:
        with self._lock:
            if self.outcomes[index] is not None:
                return
            self.outcomes[index] = outcome
            self._open -= 1
            if self._open == 0:
                self.done.set()

    def results(self) -> list[Published]:
        """Every outcome; those still open (the broker never answered) count as unavailable."""
        with self._lock:
            return [outcome or Published.BROKER_UNAVAILABLE for outcome in self.outcomes]


@dataclass
class _InFlight:
    batch: _Batch
    index: int
    key: tuple[str, str, str | None, str | None]
    returned: bool = False


@dataclass
class _Link:
    """One connection and its confirming channel; everything but `ready`/`broken` runs on its I/O thread."""

    connection: pika.SelectConnection
    ready: threading.Event = field(default_factory=threading.Event)
    broken: threading.Event = field(default_factory=threading.Event)
    channel: Channel | None = None
    tag: int = 0  # the delivery tag of the last message published on the channel
    in_flight: dict[int, _InFlight] = field(default_factory=dict)  # by delivery tag, oldest first

    # --- connection and channel ------------------------------------------------

    def on_open(self, connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=self.on_channel)

    def on_channel(self, channel: Channel) -> None:
        self.channel = channel
        channel.add_on_return_callback(self.on_return)
        channel.add_on_close_callback(self.on_channel_closed)
        channel.confirm_delivery(self.on_confirm, callback=lambda _frame: self.ready.set())

    def on_channel_closed(self, _channel: Channel, reason: BaseException) -> None:
        if not isinstance(reason, pika.exceptions.ChannelClosedByClient):
            log.warning("publishing channel closed", reason=repr(reason))
        self.channel = None
        if self.connection.is_open:
            self.connection.close()

    def on_closed(self, _connection: pika.SelectConnection, reason: BaseException) -> None:
        self.fail_in_flight()
        self.broken.set()
        self.ready.set()  # wake a caller waiting for the link to open
        if not isinstance(reason, pika.exceptions.ConnectionClosedByClient):
            log.warning("publishing connection closed", reason=repr(reason))
        self.connection.ioloop.stop()

    def on_open_error(self, _connection: pika.SelectConnection, error: BaseException) -> None:
        self.on_closed(_connection, error)

    # --- publishing ----------------------------------------------------------

    def send(self, messages: Sequence[Outgoing], batch: _Batch) -> None:
        channel = self.channel
        if channel is None or not channel.is_open:
            for index in range(len(messages)):
                batch.settle(index, Published.BROKER_UNAVAILABLE)
            return
        for index, message in enumerate(messages):
            try:
                channel.basic_publish(message.exchange, message.routing_key, message.body, message.properties, mandatory=True)
            except (pika.exceptions.AMQPError, OSError):  # the channel or connection went meanwhile
                for rest in range(index, len(messages)):
                    batch.settle(rest, Published.BROKER_UNAVAILABLE)
                return
            self.tag += 1
            self.in_flight[self.tag] = _InFlight(batch, index, message.key)

    def on_return(self, _channel: Channel, method: Basic.Return, properties: BasicProperties, _body: bytes) -> None:
        key = (method.exchange, method.routing_key, properties.message_id, properties.correlation_id)
        entry = next((e for e in self.in_flight.values() if e.key == key and not e.returned), None)
        if entry is not None:
            entry.returned = True
        log.error("broker returned the message as unroutable", exchange=method.exchange, routing_key=method.routing_key)

    def on_confirm(self, frame: Method) -> None:
        method = frame.method
        acked = isinstance(method, Basic.Ack)
        if not acked:
            log.error("broker refused a message (nack)", delivery_tag=method.delivery_tag, multiple=method.multiple)
        tags = [t for t in self.in_flight if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        for tag in tags:
            entry = self.in_flight.pop(tag, None)
            if entry is not None:
                entry.batch.settle(entry.index, Published.OK if acked and not entry.returned else Published.REFUSED)

    def fail_in_flight(self) -> None:
        for entry in self.in_flight.values():
            entry.batch.settle(entry.index, Published.BROKER_UNAVAILABLE)
        self.in_flight.clear()


class ConfirmingPublisher:
    """Publishes batches with publisher confirms pipelined; safe to call from any one thread at a time."""

    def __init__(
        self,
        url: str,
        timeout_s: float = 5.0,
        retry_after_s: float = 1.0,
        name: str = "gateway-confirming-publisher",
        heartbeat_s: int = DEFAULT_HEARTBEAT_S,
    ) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._retry_after_s = retry_after_s
        self._name = name
        self._heartbeat_s = heartbeat_s
        self._link: _Link | None = None
        self._thread: threading.Thread | None = None
        self._down_until = 0.0

    def publish_many(self, messages: Sequence[Outgoing]) -> list[Published]:
        """Publish every message; each outcome is OK only when the broker confirmed that message."""
        if not messages:
            return []
        link = self._connected()
        if link is None:
            return [Published.BROKER_UNAVAILABLE] * len(messages)
        batch = _Batch(len(messages))
        link.connection.ioloop.add_callback_threadsafe(lambda: link.send(messages, batch))
        deadline = time.monotonic() + self._timeout_s + len(messages) * 0.001
        # Checked now and then: a link that broke before its loop ran `send` never settles the batch.
        while not batch.done.wait(_BROKEN_CHECK_S):
            if link.broken.is_set():
                break
            if time.monotonic() > deadline:
                self._fail(TimeoutError(f"the broker confirmed too slowly ({len(messages)} messages in flight)"))
                break
        return batch.results()

    def close(self) -> None:
        link, thread, self._link, self._thread = self._link, self._thread, None, None
        if link is not None and not link.broken.is_set():
            link.connection.ioloop.add_callback_threadsafe(_closing(link))
        if thread is not None:
            thread.join(timeout=self._timeout_s)

    def _connected(self) -> _Link | None:
        link = self._link
        if link is not None and not link.broken.is_set():
            return link
        self.close()
        if time.monotonic() < self._down_until:
            return None
        try:
            link = self._open()
        except (pika.exceptions.AMQPError, OSError) as exc:
            self._fail(exc)
            return None
        if not link.ready.wait(self._timeout_s) or link.broken.is_set():
            self._link = link  # so that close() stops its thread
            self._fail(ConnectionError("the broker did not open a confirming channel in time"))
            return None
        return link

    def _open(self) -> _Link:
        link: _Link
        connection = pika.SelectConnection(
            parameters(self._url, self._timeout_s, self._name, self._heartbeat_s),
            on_open_callback=lambda c: link.on_open(c),
            on_open_error_callback=lambda c, e: link.on_open_error(c, e),
            on_close_callback=lambda c, r: link.on_closed(c, r),
        )
        link = _Link(connection)
        self._link = link
        self._thread = start_thread(connection.ioloop.start, f"{self._name}-io", os_name="broker-io")
        return link

    def _fail(self, exc: BaseException) -> None:
        log.warning("broker unavailable for publishing", error=repr(exc), retry_after_s=self._retry_after_s)
        self._down_until = time.monotonic() + self._retry_after_s
        self.close()


def _closing(link: _Link) -> Callable[[], None]:
    def close() -> None:
        if not (link.connection.is_closed or link.connection.is_closing):
            link.connection.close()  # on_closed stops the loop

    return close
