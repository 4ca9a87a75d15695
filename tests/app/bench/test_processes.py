"""CPU and memory of a benchmark's processes, read from /proc and put in their roles."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from app.bench.processes import GATEWAY, HTTP, RELAY, ProcessTable, gateway_processes, peak_resident_bytes

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
