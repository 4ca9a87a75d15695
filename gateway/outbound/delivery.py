"""Delivery: pushes the gateway's signed messages to the parties that registered an endpoint.

    {ns}.outbound --(recipient)--> {ns}.push.<recipient>     one quorum queue per push recipient
         ^                                  |  consumed here, `in_flight` at a time per recipient
         | dead-lettered when the wait ends v
    {ns}.delay.<ms> <--(gateway-delay-ms)-- {ns}.delay         after a failed attempt: wait, then again

One connection consumes every push queue, each on a channel of its own whose
prefetch is `in_flight`; the pushes run in a bounded thread pool and post their
acknowledgements back to the connection's thread. A slow or dead partner so holds
at most `in_flight` threads and its own queue, and the others keep flowing.

Every attempt sends the stored bytes, with the same messageId. It counts as
delivered only when the answer is the recipient's signed receipt of exactly those
bytes (gateway/outbound/proof.py), which is stored as the proof. A failed attempt
is counted in the store and the message waits in a delay queue, twice as long each
time; after the last attempt, or at once when the recipient's signed answer is a
rejection, it is parked with the reason (`gateway outbox list --status parked`).
The queue message only says which outbox row to deliver: the store is the truth.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import pika
import pika.exceptions
import structlog
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from gateway import metrics
from gateway.broker.consumer import ConsumerLoop
from gateway.broker.publisher import Published
from gateway.exceptions import DeliveryFailed, RetryNotScheduled
from gateway.outbound.outbox import OutboxEntry, carried, publish_outbound
from gateway.outbound.proof import delivery_receipt
from gateway.outbound.push import Pusher
from gateway.services import Services
from gateway.threads import name_this_thread

log = structlog.get_logger(__name__)
ACTOR = "delivery"  # in the outbound messages' history
STOP_GRACE_S = 20.0  # how long a stopping delivery waits for the pushes in flight


class Delivery:
    def __init__(self, services: Services, pushers: Mapping[str, Pusher]) -> None:
        self.services = services
        self.pushers = pushers
        self.settings = services.settings.delivery
        self._delays = self.settings.retry_delays_ms()
        self._pool = ThreadPoolExecutor(
            self.settings.threads, thread_name_prefix="delivery", initializer=name_this_thread
        )
        # Touched by the connection's thread only; what was in flight when a connection ends is handed out again.
        self._in_flight: set[Future[None]] = set()
        self._loop = ConsumerLoop(services.settings.broker, services.topology, "delivery")

    # --- consuming (the connection's thread) ------------------------------------

    def run(self) -> None:
        """Consume the push queues until `stop()`, reconnecting when the broker goes away."""
        log.info("delivery running", recipients=list(self.services.topology.push_recipients), threads=self.settings.threads)
        self._loop.run(self._start, drain=self._finish_in_flight, disconnected=self._in_flight.clear)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def stop(self, *_: object) -> None:
        self._loop.stop()

    def _start(self, connection: pika.BlockingConnection) -> None:
        topology = self.services.topology
        for recipient in topology.push_recipients:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=self.settings.in_flight)
            channel.basic_consume(topology.push_queue(recipient), functools.partial(self._on_message, connection))

    def _on_message(
        self,
        connection: pika.BlockingConnection,
        channel: BlockingChannel,
        method: Basic.Deliver,
        properties: BasicProperties,
        body: bytes,
    ) -> None:
        future = self._pool.submit(self.deliver, properties, body)
        self._in_flight.add(future)
        settle = functools.partial(self._settle, channel, method.delivery_tag, future)
        future.add_done_callback(lambda _: _call_soon(connection, settle))

    def _settle(self, channel: BlockingChannel, delivery_tag: int, future: Future[None]) -> None:
        self._in_flight.discard(future)
        if not channel.is_open:
            return  # the broker hands the message out again
        if future.cancelled() or future.exception() is not None:
            channel.basic_nack(delivery_tag, requeue=True)
        else:
            channel.basic_ack(delivery_tag)

    def _finish_in_flight(self, connection: pika.BlockingConnection) -> None:
        """On stop: pushes not started go back to their queue; those under way may finish."""
        for future in list(self._in_flight):
            future.cancel()
        deadline = time.monotonic() + STOP_GRACE_S
        while self._in_flight and time.monotonic() < deadline:
            connection.process_data_events(time_limit=0.1)

    # --- one attempt (a pool thread) -----------------------------------------------

    def deliver(self, properties: BasicProperties, body: bytes) -> None:
        """Push one outbox message once, and record what came of it."""
        message_id = properties.message_id or ""
        try:
            entry = self.services.outbox.get(message_id)
            if entry is None:
                log.error("a queued push names no outbox message; dropped", message_id=message_id)
                return
            self._attempt(entry)
        except RetryNotScheduled:
            raise
        except Exception:  # the store failed, say: no attempt was made, so none is counted
            log.exception("delivery could not attempt the push; it waits and comes back", message_id=message_id)
            self._later(properties, body)

    def _later(self, properties: BasicProperties, body: bytes) -> None:
        """Send the message round the first delay queue again, without counting an attempt.

        (Handing it straight back to its queue would spin while the store is away, and the
        queue's delivery limit would then dead-letter it.)
        """
        delay_ms = self._delays[0] if self._delays else None
        message = carried(properties, body)
        if publish_outbound(self.services.publisher(), self.services.topology, message, delay_ms) is not Published.OK:
            raise RetryNotScheduled(f"the delay queue did not take {properties.message_id}")

    def _attempt(self, entry: OutboxEntry) -> None:
        message = entry.message
        bound = log.bind(message_id=message.message_id, correlation_id=message.correlation_id, recipient=message.recipient)
        if not entry.pending:
            bound.info("push skipped: the message is no longer pending", status=entry.status)
            return
        party = self.services.parties.get(message.recipient)
        if party is None or party.endpoint is None:
            bound.warning("the recipient has no endpoint any more; the message waits to be pulled")
            return
        started = time.perf_counter()
        try:
            answer = self.pushers[party.endpoint.transport](
                party.endpoint.url, message.body, timeout_s=self.settings.timeout_s, correlation_id=message.correlation_id
            )
            receipt = delivery_receipt(answer, message, party, self.services.trust, self.services.parties)
        except DeliveryFailed as failure:
            self._failed(entry, failure, bound)
            return
        transport = party.endpoint.transport
        why = f"the recipient's signed receipt ({receipt.status}) of a {transport} push, attempt {entry.attempts + 1}"
        if self.services.outbox.mark_delivered(message.pk, receipt.raw, dt.datetime.now(dt.UTC), ACTOR, why):
            metrics.PUSHED.labels("delivered").inc()
            bound.info(
                "message delivered",
                transport=transport,
                attempt=entry.attempts + 1,
                receipt_status=receipt.status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )

    def _failed(self, entry: OutboxEntry, failure: DeliveryFailed, bound: structlog.typing.FilteringBoundLogger) -> None:
        message = entry.message
        attempt = self.services.outbox.note_failure(message.pk, failure.reason)
        if failure.final or attempt >= self.settings.max_attempts:
            why = "refused by the recipient" if failure.final else f"{attempt} attempts failed"
            if self.services.outbox.park(message.pk, f"{why}: {failure.reason}", dt.datetime.now(dt.UTC), ACTOR):
                metrics.PUSHED.labels("parked").inc()
                bound.error("message parked", attempt=attempt, reason=failure.reason)
            else:  # acknowledged by a pull meanwhile, say: it stays as it is
                bound.info("push failed, but the message is no longer pending", attempt=attempt, reason=failure.reason)
            return
        delay_ms = self._delays[attempt - 1]
        if publish_outbound(self.services.publisher(), self.services.topology, message, delay_ms) is not Published.OK:
            raise RetryNotScheduled(f"the delay queue did not take {message.message_id}")
        metrics.PUSHED.labels("retried").inc()
        bound.warning("push failed; will try again", attempt=attempt, retry_in_s=delay_ms / 1000, reason=failure.reason)


def _call_soon(connection: pika.BlockingConnection, callback: functools.partial[None]) -> None:
    """Run `callback` on the connection's thread (channels are not thread-safe)."""
    try:
        connection.add_callback_threadsafe(callback)
    except pika.exceptions.ConnectionWrongStateError:
        pass  # the connection is gone: the broker hands the unacknowledged message out again

