"""Threads that also name themselves to the operating system.

A Python thread's name is Python's own: `top -H`, `ps -L` and /proc show every thread of
a process under the process's title, so an operator looking at a busy gateway process
cannot tell its group commit from its request threads. Each long-lived thread of the
gateway sets its name in the kernel (at most 15 bytes), and `gateway bench intake` reads
the HTTP workers' CPU thread by thread (app/bench/processes.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from setproctitle import setthreadtitle

OS_NAME_BYTES = 15  # the kernel's limit (TASK_COMM_LEN, less its terminating NUL)


def name_this_thread(name: str | None = None) -> None:
    """Give the calling thread `name` (by default its Python name) in the operating system."""
    setthreadtitle((name or threading.current_thread().name)[:OS_NAME_BYTES])


def start_thread(target: Callable[[], object], name: str, os_name: str | None = None) -> threading.Thread:
    """Start a daemon thread running `target`, named `name` in Python and `os_name` (else `name`) in the system."""

    def run() -> None:
        name_this_thread(os_name or name)
        target()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
