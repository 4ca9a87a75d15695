"""CPU time and memory of the processes a benchmark involves, read from /proc, grouped by role.

The gateway's components name themselves (`gateway: relay`, and gunicorn's `gunicorn: worker
[gateway-http]`, see app/server.py), so a process is put in its role by its command line; the
broker and the database are found by their program names. Those servers are shared on a
development machine: their CPU is everything they did during the phase, whoever asked.

Within the HTTP workers, each thread names itself to the system (gateway/threads.py), so their
CPU is also read thread by thread: the event loop (the process's first thread), the request
threads that run the stages, the group commit, the forwarder and its broker I/O.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

K = TypeVar("K")
PROC = Path("/proc")
TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")

HTTP, RELAY, GATEWAY, RABBITMQ, POSTGRESQL, LOAD = (
    "http workers", "relay", "other gateway components", "rabbitmq", "postgresql", "load generator",
)
ROLES = (HTTP, RELAY, GATEWAY, RABBITMQ, POSTGRESQL, LOAD)
HTTP_THREAD_ROLES = ("event loop", "request threads", "group commit", "forwarder", "broker I/O", "other threads")
_HTTP_THREADS = {"http": "request threads", "group-commit": "group commit", "forwarder": "forwarder", "broker-io": "broker I/O"}
SERVER_PROGRAMS = {"beam.smp": RABBITMQ, "erl_child_setup": RABBITMQ, "epmd": RABBITMQ, "inet_gethost": RABBITMQ}


@dataclass(frozen=True)
class Sample:
    """Each process's role and CPU seconds so far, and each HTTP worker thread's, at one moment."""

    cpu_s: Mapping[int, tuple[str, float]]
    http_threads_s: Mapping[tuple[int, int], tuple[str, float]]  # (pid, thread id) -> (thread role, CPU s)

    def minus(self, earlier: Sample) -> dict[str, float]:
        """CPU seconds spent per role since `earlier` (a process that started in between counts from zero)."""
        return _spent(self.cpu_s, earlier.cpu_s, ROLES)

    def http_threads_minus(self, earlier: Sample) -> dict[str, float]:
        """CPU seconds the HTTP workers spent per thread role since `earlier`."""
        return _spent(self.http_threads_s, earlier.http_threads_s, HTTP_THREAD_ROLES)


def _spent(now: Mapping[K, tuple[str, float]], earlier: Mapping[K, tuple[str, float]], roles: tuple[str, ...]) -> dict[str, float]:
    spent: dict[str, float] = defaultdict(float)
    for key, (role, seconds) in now.items():
        before = earlier.get(key)
        spent[role] += seconds - (before[1] if before and before[0] == role else 0.0)
    return {role: spent.get(role, 0.0) for role in roles}


class ProcessTable:
    """The processes of one benchmark: the gateway's tree, the load generator's, and the shared servers."""

    def __init__(self, gateway_root: int, load_roots: Iterable[int] = ()) -> None:
        self.gateway_root = gateway_root
        self.load_roots = set(load_roots)

    def sample(self) -> Sample:
        tree = _children_by_parent()
        gateway = _descendants(self.gateway_root, tree)
        load = {pid for root in self.load_roots for pid in _descendants(root, tree)}
        found: dict[int, tuple[str, float]] = {}
        threads: dict[tuple[int, int], tuple[str, float]] = {}
        for pid in _pids():
            role = _role(pid, gateway, load)
            seconds = _cpu_seconds(pid) if role else None
            if role and seconds is not None:
                found[pid] = (role, seconds)
            if role == HTTP:
                threads |= {(pid, tid): spent for tid, spent in _threads(pid).items()}
        return Sample(found, threads)

    def resident_bytes(self) -> dict[str, int]:
        """The resident memory of each of the gateway's processes, by its title and pid."""
        sizes: dict[str, int] = {}
        for pid in sorted(_descendants(self.gateway_root, _children_by_parent())):
            resident = resident_bytes_of(pid)
            if resident is not None:
                sizes[f"{_title(pid)} [{pid}]"] = resident
        return sizes


def peak_resident_bytes(pid: int) -> int | None:
    """The highest resident memory `pid` has had (VmHWM), or None once it is gone."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def gateway_processes(root: int) -> dict[int, str]:
    """The gateway's processes below `root`, each with its title."""
    return {pid: _title(pid) for pid in _descendants(root, _children_by_parent())}


def _role(pid: int, gateway: set[int], load: set[int]) -> str | None:
    if pid in load:
        return LOAD
    if pid in gateway:
        title = _title(pid)
        if "gateway-http" in title:
            return HTTP
        return RELAY if title == "gateway: relay" else GATEWAY
    program = _program(pid)
    if program in SERVER_PROGRAMS:
        return SERVER_PROGRAMS[program]
    return POSTGRESQL if program.startswith("postgres") else None


def _pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def _children_by_parent() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = defaultdict(list)
    for pid in _pids():
        stat = _stat(pid)
        if stat:
            tree[int(stat[1])].append(pid)
    return tree


def _descendants(root: int, tree: Mapping[int, list[int]]) -> set[int]:
    found, pending = set(), [root]
    while pending:
        pid = pending.pop()
        if pid not in found:
            found.add(pid)
            pending.extend(tree.get(pid, ()))
    return found


def _stat(pid: int, tid: int | None = None) -> list[str] | None:
    """/proc/PID/stat (or a thread's) from the state field on (the program name in parentheses may hold spaces)."""
    try:
        text = (PROC / str(pid) / ("stat" if tid is None else f"task/{tid}/stat")).read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def _cpu_seconds(pid: int, tid: int | None = None) -> float | None:
    stat = _stat(pid, tid)
    return (int(stat[11]) + int(stat[12])) / TICKS_PER_S if stat else None  # utime + stime


def _threads(pid: int) -> dict[int, tuple[str, float]]:
    """Each thread of `pid`: its role among the HTTP worker's threads, and its CPU seconds."""
    found = {}
    try:
        tids = [int(entry.name) for entry in (PROC / str(pid) / "task").iterdir()]
    except OSError:
        return {}
    for tid in tids:
        seconds = _cpu_seconds(pid, tid)
        if seconds is not None:
            found[tid] = (_thread_role(pid, tid), seconds)
    return found


def _thread_role(pid: int, tid: int) -> str:
    if tid == pid:
        return "event loop"
    try:
        name = (PROC / str(pid) / "task" / str(tid) / "comm").read_text().strip()
    except OSError:
        return "other threads"
    return _HTTP_THREADS.get(re.sub(r"_\d+$", "", name), "other threads")  # http_0, http_1, ...


def resident_bytes_of(pid: int) -> int | None:
    try:
        return int((PROC / str(pid) / "statm").read_text().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return None


def _title(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _program(pid: int) -> str:
    try:
        return (PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return ""
