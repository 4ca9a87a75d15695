"""CPU and memory of a benchmark's processes, read from /proc and put in their roles."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from app.bench.processes import (
    GATEWAY,
    HTTP,
    HTTP_THREAD_ROLES,
    RELAY,
    ProcessTable,
    gateway_processes,
    peak_resident_bytes,
)

# A child that names itself as a gateway component does, burns CPU, then waits to be sampled.
BURNER = """
import sys, time
from setproctitle import setproctitle
setproctitle(sys.argv[1])
until = time.process_time() + float(sys.argv[2])
while time.process_time() < until:
    pass
print("done", flush=True)
time.sleep(60)
"""

# An HTTP worker whose group commit thread and two request threads burn CPU, named as the gateway names them.
THREADED_BURNER = """
import sys, threading, time
from setproctitle import setproctitle
from gateway.threads import start_thread
setproctitle("gunicorn: worker [gateway-http]")
burnt = threading.Semaphore(0)
def burn(seconds):
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass
    burnt.release()
    time.sleep(60)  # a thread that ends leaves /proc, and its CPU with it
start_thread(lambda: burn(0.4), "group-commit")
for i in (0, 1):
    start_thread(lambda: burn(0.2), f"http_{i}")
for _ in range(3):
    burnt.acquire()
print("done", flush=True)
time.sleep(60)
"""


def start_burner(title: str, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", BURNER, title, str(seconds)], stdout=subprocess.PIPE, text=True)


def test_cpu_is_counted_for_the_role_a_process_names() -> None:
    processes = ProcessTable(os.getpid())
    before = processes.sample()
    burners = [start_burner("gateway: relay", 0.4), start_burner("gunicorn: worker [gateway-http]", 0.2)]
    try:
        for burner in burners:
            assert burner.stdout.readline().strip() == "done"
        spent = processes.sample().minus(before)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()

    assert 0.35 <= spent[RELAY] < 1.5
    assert 0.15 <= spent[HTTP] < 1.5
    assert spent[GATEWAY] >= 0.0  # this test process itself, as the tree's root


def test_an_http_workers_cpu_is_also_counted_by_the_role_of_each_thread() -> None:
    processes = ProcessTable(os.getpid())
    before = processes.sample()
    burner = subprocess.Popen([sys.executable, "-c", THREADED_BURNER], stdout=subprocess.PIPE, text=True)
    try:
        assert burner.stdout.readline().strip() == "done"  # type: ignore[union-attr]
        spent = processes.sample().http_threads_minus(before)
    finally:
        burner.kill()
        burner.wait()

    assert set(spent) == set(HTTP_THREAD_ROLES)
    assert 0.35 <= spent["group commit"] < 1.0
    assert 0.35 <= spent["request threads"] < 1.0  # two threads of 0.2 s
    assert spent["forwarder"] == 0.0 and spent["broker I/O"] == 0.0
    assert spent["event loop"] > 0.0  # the process's first thread: the interpreter starting


def test_the_gateway_tree_lists_titles_and_memory() -> None:
    burner = start_burner("gateway: timers", 0.0)
    try:
        assert burner.stdout.readline().strip() == "done"
        titles = gateway_processes(os.getpid())
        memory = ProcessTable(os.getpid()).resident_bytes()
        peak = peak_resident_bytes(burner.pid)
    finally:
        burner.kill()
        burner.wait()

    assert titles[burner.pid] == "gateway: timers"
    assert memory[f"gateway: timers [{burner.pid}]"] > 1_000_000
    assert peak is not None and peak >= memory[f"gateway: timers [{burner.pid}]"]
    time.sleep(0.05)
    assert peak_resident_bytes(burner.pid) is None  # gone
