"""The forwarder: a gateway process hands the messages it has just recorded to the broker, off the request path.

A sender's receipt is given once its message is durably in the store (the group
commit); the publication is not waited for. The request thread puts the recorded
message on its process's forwarder and answers. The forwarder's thread takes all that
is waiting, publishes it as one batch with the confirms in flight together
(`ConfirmingPublisher`), and notes the confirmed messages `queued`, one transaction
per door (the history says through which door each came).

A message the broker did not confirm (down, too slow, unroutable), or that found the
forwarder full or closed, stays `accepted` in the store, and the outbox relay publishes
it after its grace period, as it would after a crash. A message may so be published
twice; the workers are idempotent.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.exc import SQLAlchemyError

from gateway import metrics
from gateway.broker.confirming import ConfirmingPublisher
from gateway.broker.publisher import Outgoing, Published, message_headers, message_properties
from gateway.store.engine import retrying_once
from gateway.store.messages import MessageStore

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
    def __init__(self, store: MessageStore, publisher: ConfirmingPublisher, batch: int = 500, capacity: int = 20_000) -> None:
        self._store = store
        self._publisher = publisher
        self._batch = batch
        self._queue: queue.Queue[Forwarded | None] = queue.Queue(capacity)
        self._handed = 0  # messages handed in so far ...
        self._settled = 0  # ... and those published (or left to the relay) and noted
        self._progress = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="forwarder", daemon=True)
        self._thread.start()

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
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < self._batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._forward(batch)
            with self._progress:
                self._settled += len(batch)
                self._progress.notify_all()

    def _forward(self, batch: Sequence[Forwarded]) -> None:
        outcomes = self._publisher.publish_many([item.message for item in batch])
        confirmed: dict[str, list[int]] = {}
        for item, outcome in zip(batch, outcomes, strict=True):
            if outcome is Published.OK:
                confirmed.setdefault(item.actor, []).append(item.pk)
        queued = sum(len(pks) for pks in confirmed.values())
        metrics.FORWARDED.labels("queued").inc(queued)
        if queued < len(batch):
            self._leave(len(batch) - queued, "the broker did not confirm them")
        at = dt.datetime.now(dt.UTC)
        for actor, pks in confirmed.items():
            try:
                retrying_once(lambda: self._store.mark_queued(pks, at, actor))  # noqa: B023 (called at once)
            except SQLAlchemyError:
                log.warning("could not mark messages queued; the relay will publish them again", count=len(pks), exc_info=True)

    @staticmethod
    def _leave(count: int, why: str) -> None:
        metrics.FORWARDED.labels("left_to_relay").inc(count)
        log.warning("messages left to the outbox relay", count=count, why=why)
