"""Taking a batch: what is already waiting, up to a limit, and whether the stop mark was met."""

from __future__ import annotations

import queue

from gateway.batching import take_waiting

STOP = object()


def waiting(*items: object) -> queue.SimpleQueue[object]:
    source: queue.SimpleQueue[object] = queue.SimpleQueue()
    for item in items:
        source.put(item)
    return source


def test_a_batch_is_the_first_item_and_what_waits_behind_it_up_to_the_limit() -> None:
    source = waiting(2, 3, 4)

    assert take_waiting(source, 1, 3, STOP) == ([1, 2, 3], False)
    assert source.get_nowait() == 4


def test_nothing_waiting_makes_a_batch_of_one_without_waiting() -> None:
    assert take_waiting(waiting(), 1, 10, STOP) == ([1], False)


def test_the_stop_mark_ends_the_batch_and_is_reported() -> None:
    source = waiting(2, STOP, 3)

    assert take_waiting(source, 1, 10, STOP) == ([1, 2], True)
    assert source.get_nowait() == 3  # what came after the mark is left where it was
    assert take_waiting(waiting(), STOP, 10, STOP) == ([], True)
