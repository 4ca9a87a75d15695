"""Worker fixtures: workers running in background threads (always stopped and joined), a plain
AMQP channel to look into the test's queues, and the workers' handled-messages counter."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from pika.spec import BasicProperties
from prometheus_client import REGISTRY
from support import AMQP_URL, wait_until

from gateway.broker.connection import connect
from gateway.services import Services
from routing.worker import Worker


class Queues:
    """Reads the test's queues with basic_get (each message taken is acknowledged, i.e. removed)."""

    def __init__(self) -> None:
        self.connection = connect(AMQP_URL, name="test-inspector")
        self.channel = self.connection.channel()

    def ready(self, queue: str) -> int:
        return self.channel.queue_declare(queue, passive=True).method.message_count

    def consumers(self, queue: str) -> int:
        return self.channel.queue_declare(queue, passive=True).method.consumer_count

    def take(self, queue: str) -> tuple[BasicProperties, bytes] | None:
        method, properties, body = self.channel.basic_get(queue, auto_ack=True)
        return (properties, body) if method is not None else None

    def take_all(self, queue: str, expected: int, timeout: float = 30.0) -> list[tuple[BasicProperties, bytes]]:
        """Wait for `expected` messages in `queue` and take them; fails if more are there."""
        taken: list[tuple[BasicProperties, bytes]] = []

        def enough() -> bool:
            while (message := self.take(queue)) is not None:
                taken.append(message)
            return len(taken) >= expected

        wait_until(enough, timeout=timeout, interval=0.05)
        assert len(taken) == expected, f"{queue} held {len(taken)} messages, expected {expected}"
        return taken

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


@pytest.fixture
def queues() -> Iterator[Queues]:
    inspector = Queues()
    yield inspector
    inspector.close()


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
    def __init__(self, services: Services) -> None:
        self.services = services
        self.running: list[RunningWorker] = []

    def start(self, worker: Worker | None = None) -> RunningWorker:
        self.running.append(RunningWorker(worker or Worker(self.services)))
        return self.running[-1]

    def stop_all(self) -> None:
        for running in self.running:
            if running.thread.is_alive():
                running.stop()


@pytest.fixture
def workers(services: Services) -> Iterator[Workers]:
    """Starts workers in threads; whatever a test leaves running is stopped (and must stop) afterwards."""
    started = Workers(services)
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
