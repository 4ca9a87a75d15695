"""Taking a batch from a queue: what one item's arrival finds waiting behind it (the group commit's and the forwarder's)."""

from __future__ import annotations

import queue
from typing import Any


def take_waiting(source: queue.SimpleQueue[Any] | queue.Queue[Any], first: Any, limit: int, stop: object) -> tuple[list[Any], bool]:
    """`first` and whatever else is already waiting in `source`, up to `limit` items; and whether `stop` was met.

    Never waits: a batch is what has gathered while the previous one was being written.
    """
    if first is stop:
        return [], True
    batch = [first]
    while len(batch) < limit:
        try:
            more = source.get_nowait()
        except queue.Empty:
            break
        if more is stop:
            return batch, True
        batch.append(more)
    return batch, False
