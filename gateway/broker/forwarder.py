"""The forwarder: a gateway process hands the messages it has just recorded to the broker, off the request path.

A sender's receipt is given once its message is durably in the store (the group
commit); the publication is not waited for. The request thread puts the recorded
message on its process's forwarder and answers. The forwarder's thread takes all that
is waiting, publishes it as one batch with the confirms in flight together
(`ConfirmingPublisher`), and notes the confirmed messages `queued`, each at the
moment its batch was confirmed and in the name of the door it came through. The
notes of all batches confirmed within `note_interval_s` are written in one
transaction: a write transaction (and on SQLite a disk flush) per batch would cost
more than the publishing. Noting late is safe: a message not yet noted is only
republished by the relay after its grace period, and the workers are idempotent.

A message the broker did not confirm (down, too slow, unroutable), or that found the
forwarder full or closed, stays `accepted` in the store, and the outbox relay publishes
it after its grace period, as it would after a crash. A message may so be published
twice; the workers are idempotent.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.exc import SQLAlchemyError

from gateway import metrics
from gateway.batching import take_waiting
from gateway.broker.confirming import ConfirmingPublisher
from gateway.broker.publisher import Outgoing, Published, message_headers, message_properties
from gateway.store.engine import retrying_once
from gateway.store.messages import MessageStore
from gateway.threads import start_thread

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Forwarded:
    pk: int  # the message's row in the store
    actor: str  # who queued it, in its history: the door it came through
    message: Outgoing


def accepted_message(
    exchange: str,
    route: str,
    body: bytes,
    *,
    pk: int,
    message_id: str,
    correlation_id: str | None,
    sender: str,
    document_type: str,
    function: str,
    digest: str,
) -> Outgoing:
    """An accepted inbound message as it goes to its route's queue (the workers find it in the store by its headers)."""
    headers = message_headers(pk, sender, document_type, function, digest)
    return Outgoing(exchange, route, body, message_properties(message_id, correlation_id, headers))


class Forwarder:
    def __init__(
        self,
        store: MessageStore,
        publisher: ConfirmingPublisher,
        batch: int = 500,
        capacity: int = 20_000,
        note_interval_s: float = 0.1,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._batch = batch
        self._note_interval_s = note_interval_s
        self._queue: queue.Queue[Forwarded | None] = queue.Queue(capacity)
        self._confirmed: list[tuple[list[int], dt.datetime, str]] = []  # (store ids, confirmed at, door), not yet noted
        self._first_confirmed = 0.0  # monotonic time of the oldest of them
        self._taken = 0  # messages taken from the queue and not yet settled
        self._handed = 0  # messages handed in so far ...
        self._settled = 0  # ... and those published and noted, or left to the relay
        self._progress = threading.Condition()
        self._closed = False
        self._thread = start_thread(self._run, "forwarder")

    def forward(self, item: Forwarded) -> None:
        """Publish `item` soon; never blocks (what cannot be taken now is the relay's)."""
        with self._progress:
            if self._closed:
                return self._leave(1, "the forwarder is closed")
            self._handed += 1
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._progress:
                self._handed -= 1
            self._leave(1, "the forwarder is full")

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything handed in so far is published and noted (or left to the relay)."""
        with self._progress:
            target = self._handed
            return self._progress.wait_for(lambda: self._settled >= target, timeout_s)

    def close(self) -> None:
        with self._progress:
            self._closed = True
        self._queue.put(None)  # after what is waiting: that still goes out
        self._thread.join(timeout=30)
        self._publisher.close()

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._until_noting())
            except queue.Empty:
                self._note()
                continue
            batch, stopping = take_waiting(self._queue, item, self._batch, None)
            if batch:
                self._forward(batch)
            if stopping:
                self._note()
                return
            if self._taken >= self._batch or self._until_noting() == 0:
                self._note()

    def _until_noting(self) -> float | None:
        """How long the queue may be waited on before the confirmed messages are due to be noted."""
        if not self._taken:
            return None
        return max(0.0, self._first_confirmed + self._note_interval_s - time.monotonic())

    def _forward(self, batch: Sequence[Forwarded]) -> None:
        outcomes = self._publisher.publish_many([item.message for item in batch])
        at = dt.datetime.now(dt.UTC)
        by_door: dict[str, list[int]] = {}
        for item, outcome in zip(batch, outcomes, strict=True):
            if outcome is Published.OK:
                by_door.setdefault(item.actor, []).append(item.pk)
        queued = sum(len(pks) for pks in by_door.values())
        metrics.FORWARDED.labels("queued").inc(queued)
        if queued < len(batch):
            self._leave(len(batch) - queued, "the broker did not confirm them")
        if not self._taken:
            self._first_confirmed = time.monotonic()
        self._taken += len(batch)
        self._confirmed += [(pks, at, door) for door, pks in by_door.items()]

    def _note(self) -> None:
        """Write the queued notes of every batch confirmed since the last time, in one transaction."""
        confirmed, self._confirmed = self._confirmed, []
        try:
            retrying_once(lambda: self._store.mark_queued_groups(confirmed))
        except SQLAlchemyError:
            count = sum(len(pks) for pks, _, _ in confirmed)
            log.warning("could not mark messages queued; the relay will publish them again", count=count, exc_info=True)
        with self._progress:
            self._settled += self._taken
            self._taken = 0
            self._progress.notify_all()

    @staticmethod
    def _leave(count: int, why: str) -> None:
        metrics.FORWARDED.labels("left_to_relay").inc(count)
        log.warning("messages left to the outbox relay", count=count, why=why)
