"""Marking broker-confirmed messages as queued, in batches, off the request path.

Each accepted message would otherwise cost a second transaction (and, on SQLite,
a second fsync) just to note the broker's confirm. The note is not needed for
safety: a message whose note is lost (the process dies before a flush) is simply
published again by the outbox relay, and the workers are idempotent.

Each confirm is noted in the name of the door whose intake published the message.
"""

from __future__ import annotations

import datetime as dt
import threading

import structlog
from sqlalchemy.exc import SQLAlchemyError

from gateway.store.messages import MessageStore

log = structlog.get_logger(__name__)


class ConfirmationMarker:
    def __init__(self, store: MessageStore, interval_s: float = 0.2) -> None:
        self._store = store
        self._interval_s = interval_s
        self._pending: dict[str, list[int]] = {}  # actor -> store ids
        self._lock = threading.Lock()  # guards _pending
        self._flushing = threading.Lock()  # one flush at a time, so flush() returns only when all is written
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="confirmation-marker", daemon=True)
        self._thread.start()

    def confirmed(self, pk: int, actor: str) -> None:
        with self._lock:
            self._pending.setdefault(actor, []).append(pk)

    def flush(self) -> None:
        with self._flushing:
            with self._lock:
                batches, self._pending = self._pending, {}
            for actor, batch in batches.items():
                try:
                    self._store.mark_queued(batch, dt.datetime.now(dt.UTC), actor)
                except SQLAlchemyError:
                    log.warning(
                        "could not mark messages queued; the relay will publish them again",
                        count=len(batch), actor=actor, exc_info=True,
                    )

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self.flush()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            self.flush()
