"""An HTTP load generator for the benchmark: processes of threads on keep-alive connections.

Each load process reads its own share of messages signed beforehand (app/bench/bodies.py), and drives
`POST /v1/messages` either closed-loop (each thread sends as fast as answers
come: throughput) or open-loop at a fixed offered rate (latency). In the
open-loop phase latency is measured from the moment a request was *scheduled*,
so a slow gateway cannot hide its queueing delay (no coordinated omission).
"""

from __future__ import annotations

import http.client
import multiprocessing
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from app.bench import bodies


@dataclass
class LoadResult:
    sent: int = 0
    accepted: int = 0
    other: dict[int, int] = field(default_factory=dict)  # HTTP status -> count, for non-200 answers
    errors: int = 0  # connection failures
    repeated: int = 0  # messages sent a second time because the prepared ones ran out (answered as duplicates)
    latencies: list[float] = field(default_factory=list)  # seconds

    def merge(self, other: LoadResult) -> None:
        self.sent += other.sent
        self.accepted += other.accepted
        self.errors += other.errors
        self.repeated += other.repeated
        self.latencies.extend(other.latencies)
        for status, count in other.other.items():
            self.other[status] = self.other.get(status, 0) + count


@dataclass(frozen=True)
class LoadPlan:
    url: str
    bodies: Path  # this process's share of signed messages
    threads: int
    seconds: float
    rate: float | None  # messages/s for this process; None: closed loop


def drive(url: str, shares: list[Path], clients: int, seconds: float, rate: float | None) -> LoadResult:
    """Python load processes, one per share: closed loop when `rate` is None, else open loop at `rate` in all."""
    context = multiprocessing.get_context("spawn")
    threads = max(1, clients // len(shares))
    plans = [LoadPlan(url, share, threads, seconds, rate / len(shares) if rate else None) for share in shares]
    ready = context.Barrier(len(plans))
    results = context.Queue()
    processes = [context.Process(target=run_load_process, args=(plan, ready, results)) for plan in plans]
    for process in processes:
        process.start()
    total = LoadResult()
    for _ in processes:
        total.merge(results.get())
    for process in processes:
        process.join()
    return total


def run_load_process(plan: LoadPlan, ready: multiprocessing.Barrier, results: multiprocessing.Queue) -> None:
    """The body of one load process: wait for the start, drive, report."""
    ready.wait()
    results.put(_drive_threads(plan))


def _drive_threads(plan: LoadPlan) -> LoadResult:
    lock = threading.Lock()
    iterator = bodies.read(plan.bodies)
    result = LoadResult()
    start = time.perf_counter()
    deadline = start + plan.seconds
    interval = plan.threads / plan.rate if plan.rate else 0.0

    def worker(index: int) -> None:
        local = LoadResult()
        connection = _connect(plan.url)
        scheduled = start + (index * interval / plan.threads if interval else 0.0)
        while True:
            if interval:
                scheduled += interval
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            now = time.perf_counter()
            if now >= deadline:
                break
            with lock:
                body = next(iterator, None)
            if body is None:
                break
            began = scheduled if interval else now
            status = _post(connection, body)
            if status is None:
                local.errors += 1
                connection.close()
                connection = _connect(plan.url)
                continue
            local.sent += 1
            local.latencies.append(time.perf_counter() - began)
            if status == 200:
                local.accepted += 1
            else:
                local.other[status] = local.other.get(status, 0) + 1
        connection.close()
        with lock:
            result.merge(local)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(plan.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def _connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)


def _post(connection: http.client.HTTPConnection, body: bytes) -> int | None:
    try:
        connection.request("POST", "/v1/messages", body, {"Content-Type": "application/xml"})
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
