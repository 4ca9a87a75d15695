"""Worker fixtures: workers running in background threads (always stopped and joined) and the
workers' handled-messages counter."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from app.wiring import Assembly
from routing.worker import Worker


class RunningWorker:
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.thread = threading.Thread(target=worker.run, name="test-worker", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> float:
        """Stop and join; returns how long it took."""
        started = time.monotonic()
        self.worker.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the worker did not stop within {timeout}s"
        return time.monotonic() - started


class Workers:
    def __init__(self, assembly: Assembly) -> None:
        self.assembly = assembly
        self.running: list[RunningWorker] = []

    def start(self, worker: Worker | None = None) -> RunningWorker:
        self.running.append(RunningWorker(worker or self.assembly.worker()))
        return self.running[-1]

    def stop_all(self) -> None:
        for running in self.running:
            if running.thread.is_alive():
                running.stop()


@pytest.fixture
def workers(assembly: Assembly) -> Iterator[Workers]:
    """Starts workers in threads; whatever a test leaves running is stopped (and must stop) afterwards."""
    started = Workers(assembly)
    yield started
    started.stop_all()


class Handled:
    """The workers' `gateway_handled_messages_total` counter, counted from the start of the test."""

    def __init__(self) -> None:
        self._start = self._snapshot()

    @staticmethod
    def _value(route: str, outcome: str) -> float:
        return REGISTRY.get_sample_value("gateway_handled_messages_total", {"route": route, "outcome": outcome}) or 0.0

    def _snapshot(self) -> dict[tuple[str, str], float]:
        return {
            (sample.labels["route"], sample.labels["outcome"]): sample.value
            for metric in REGISTRY.collect()
            if metric.name == "gateway_handled_messages"
            for sample in metric.samples
            if sample.name == "gateway_handled_messages_total"
        }

    def __call__(self, route: str, outcome: str) -> int:
        return int(self._value(route, outcome) - self._start.get((route, outcome), 0.0))


@pytest.fixture
def handled() -> Handled:
    return Handled()
