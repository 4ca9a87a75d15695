"""The byte-bounded cache: what it keeps never exceeds its budget, and large entries are never kept."""

from __future__ import annotations

from gateway.signing.bounded_cache import BoundedCache


def test_the_least_recently_used_entries_go_beyond_the_budget() -> None:
    cache: BoundedCache[str] = BoundedCache(max_bytes=1600)  # entries up to 100 bytes are kept
    made: list[int] = []
    for n in range(40):
        cache.get(n, 100, lambda n=n: made.append(n) or f"v{n}")
    cache.get(39, 100, lambda: made.append(-1) or "again")  # the most recent is still there

    assert cache.held_bytes <= 1600
    assert made[-1] == 39
    assert cache.get(0, 100, lambda: "remade") == "remade"  # the oldest was evicted


def test_an_entry_larger_than_a_sixteenth_of_the_budget_is_made_but_not_kept() -> None:
    cache: BoundedCache[str] = BoundedCache(max_bytes=1600)

    assert cache.get("big", 101, lambda: "first") == "first"
    assert cache.get("big", 101, lambda: "second") == "second"
    assert cache.held_bytes == 0
