"""Threads named in the operating system (gateway/threads.py), as /proc shows them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gateway.threads import name_this_thread, start_thread


def os_name(native_id: int) -> str:
    return Path(f"/proc/self/task/{native_id}/comm").read_text().strip()


def test_a_started_thread_carries_its_name_in_python_and_its_short_name_in_the_system() -> None:
    seen: list[tuple[str, str]] = []
    thread = start_thread(
        lambda: seen.append((threading.current_thread().name, os_name(threading.get_native_id()))),
        "gwtest-a-rather-long-thread-name",
        os_name="broker-io",
    )
    thread.join(5)

    assert seen == [("gwtest-a-rather-long-thread-name", "broker-io")]
    assert thread.daemon


def test_a_name_longer_than_the_kernel_keeps_is_cut_to_fifteen_bytes() -> None:
    seen: list[str] = []
    start_thread(lambda: seen.append(os_name(threading.get_native_id())), "group-commit-and-then-some").join(5)

    assert seen == ["group-commit-an"]


def test_pool_threads_name_themselves_after_their_python_names() -> None:
    with ThreadPoolExecutor(2, thread_name_prefix="http", initializer=name_this_thread) as pool:
        names = {pool.submit(lambda: os_name(threading.get_native_id())).result() for _ in range(20)}

    assert names <= {"http_0", "http_1"} and names
