"""A least-recently-used cache bounded in bytes, for values derived from what requests carry.

Certificates arrive in KeyInfo from anyone, before anyone is authenticated. A cache keyed
by their bytes and bounded only in entries lets an anonymous client park memory in the
process (4,096 entries of 7 MB each); this one counts the bytes of its keys, evicts the
least recently used entries beyond its budget and never holds an entry larger than a
sixteenth of it, so what it keeps is bounded whatever arrives.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class BoundedCache(Generic[Value]):
    """get(key, size, make): the cached value for `key`, made (and kept, if small enough) when missing."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_bytes // 16
        self._entries: OrderedDict[Hashable, tuple[int, Value]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable, size: int, make: Callable[[], Value]) -> Value:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry[1]
        value = make()  # outside the lock: making may be slow, and a race only makes it twice
        if size <= self.max_entry_bytes:
            with self._lock:
                if key not in self._entries:
                    self._entries[key] = (size, value)
                    self._bytes += size
                while self._bytes > self.max_bytes:
                    _, (evicted, _) = self._entries.popitem(last=False)
                    self._bytes -= evicted
        return value
