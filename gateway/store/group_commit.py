"""Group commit: the request threads of a process share one writer and one fsync per batch.

Each accepted message must be durable before its receipt goes out. Committing
each on its own costs a disk flush per message and, with several threads and
processes, a queue of waiters on the database's write lock. Here a request thread
hands its message to the process's writer thread and waits; the writer records
everything waiting in one transaction and wakes them all. A sender still gets
its receipt only after its message is on disk.
"""

from __future__ import annotations

import datetime as dt
import queue
from concurrent.futures import Future

from gateway.batching import take_waiting
from gateway.store.engine import retrying_once
from gateway.store.messages import MessageStore, NewMessage, Recorded
from gateway.threads import start_thread

_STOP = object()


class GroupCommitter:
    def __init__(self, store: MessageStore, max_batch: int = 64) -> None:
        self._store = store
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = False
        self._thread = start_thread(self._run, "group-commit")

    def record(self, new: NewMessage, received_at: dt.datetime) -> Recorded:
        """Record one message with whatever else is waiting; raises what the store raised."""
        if self._closed:
            raise RuntimeError("the group committer is closed")
        future: Future[Recorded] = Future()
        self._queue.put((new, received_at, future))
        return future.result()

    def close(self) -> None:
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            batch, stopping = take_waiting(self._queue, self._queue.get(), self._max_batch, _STOP)
            if batch:
                self._commit(batch)
            if stopping:
                if self._queue.empty():
                    return
                self._queue.put(_STOP)  # what raced the close is still committed, before the stop

    def _commit(self, batch: list[tuple[NewMessage, dt.datetime, Future[Recorded]]]) -> None:
        try:
            results = retrying_once(lambda: self._store.record_many([(new, at) for new, at, _ in batch]))
        except BaseException as exc:  # every waiter learns that its message was not stored
            for _, _, future in batch:
                future.set_exception(exc)
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            future.set_result(result)
