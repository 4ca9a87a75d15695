"""Each HTTP worker process keeps to a core of its own (`[http] pin_to_core`).

An HTTP worker's threads hand every request to each other: the event loop to a request
thread, that one to the group commit and back, then to the forwarder and its broker I/O.
Each hand-off puts a thread to sleep and wakes another, and the scheduler wakes it on
whichever core is free: the stages then run on a core whose caches hold the other
thread's work. Measured in one process (README, Performance), the same stages cost
about 1.5 times as much CPU as in a loop on one core; with the process's threads kept
to one core, most of that went. With one process per core, each keeps to its own.

The master gives each new worker the first core that no living worker has (a worker
that is replaced leaves its core to its successor); the worker then pins every thread
it has, and the threads it starts later inherit the pin.
"""

from __future__ import annotations

import os
from typing import Any


def assign_core(arbiter: Any, worker: Any) -> None:
    """gunicorn's `pre_fork` hook (in the master): note on `worker` the core it will keep to (Linux only)."""
    if not hasattr(os, "sched_getaffinity"):  # elsewhere the scheduler alone decides
        return
    cores = sorted(os.sched_getaffinity(0))
    taken = {getattr(living, "core", None) for living in arbiter.WORKERS.values()}
    worker.core = next((core for core in cores if core not in taken), cores[worker.age % len(cores)])


def pin_to_core(core: int) -> None:
    """Keep every thread of this process to `core` (threads started later inherit it)."""
    for task in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(task), {core})
        except ProcessLookupError:  # a thread that ended meanwhile
            continue
