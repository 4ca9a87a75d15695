"""Each HTTP worker keeps to a core of its own (app/httpd/affinity.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from app.httpd.affinity import assign_core

CORES = sorted(os.sched_getaffinity(0))


def arbiter_with(*cores: int) -> SimpleNamespace:
    return SimpleNamespace(WORKERS={1000 + i: SimpleNamespace(core=core) for i, core in enumerate(cores)})


def test_a_new_worker_takes_the_first_core_no_living_worker_has() -> None:
    first, second = SimpleNamespace(age=1), SimpleNamespace(age=2)
    assign_core(arbiter_with(), first)
    assign_core(arbiter_with(first.core), second)

    assert first.core == CORES[0]
    assert second.core == (CORES[1] if len(CORES) > 1 else CORES[0])


def test_a_replacement_takes_the_core_its_predecessor_left() -> None:
    others = CORES[:1] + CORES[2:]  # every core but the second is taken (the worker on it died)
    replacement = SimpleNamespace(age=7)
    assign_core(arbiter_with(*others), replacement)

    assert replacement.core == (CORES[1] if len(CORES) > 1 else CORES[7 % len(CORES)])


def test_more_workers_than_cores_share_them_in_turn() -> None:
    extra = SimpleNamespace(age=len(CORES) + 1)
    assign_core(arbiter_with(*CORES), extra)

    assert extra.core == CORES[extra.age % len(CORES)]


PINNED = """
import os, sys, threading
from app.httpd.affinity import pin_to_core
started = threading.Event()
before = threading.Thread(target=started.wait)
before.start()
pin_to_core(int(sys.argv[1]))
seen = []
after = threading.Thread(target=lambda: seen.append(os.sched_getaffinity(0)))
after.start(); after.join()
tasks = [int(task) for task in os.listdir("/proc/self/task")]
print(sorted({core for task in tasks for core in os.sched_getaffinity(task)} | seen[0]))
started.set()
"""


def test_every_thread_keeps_to_the_core_those_started_before_and_after() -> None:
    core = CORES[-1]
    result = subprocess.run([sys.executable, "-c", PINNED, str(core)], capture_output=True, text=True, timeout=30, check=True)

    assert result.stdout.strip() == str([core])


def test_where_the_system_cannot_pin_no_core_is_assigned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity")
    worker = SimpleNamespace(age=1)

    assign_core(arbiter_with(), worker)

    assert not hasattr(worker, "core")
