"""Keeping the gateway's components running: a dead one is restarted with back-off, the others carry on.

A component that exits while the gateway is not stopping is restarted after a
delay that doubles with each restart in the recent window (`first_restart_s` up
to `max_restart_s`); each restart is logged and counted in the metric
`gateway_component_restarts_total`. Only a component that dies `max_restarts`
times within `window_s` stops the whole gateway, with a reason that names it: a
fault that a restart cannot cure (a broken configuration, say) must not loop for ever.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from prometheus_client import Counter, values

from gateway.config import SupervisorSettings

log = structlog.get_logger(__name__)
TICK_S = 0.2

Spawn = Callable[[str], multiprocessing.process.BaseProcess]


@dataclass
class _Child:
    process: multiprocessing.process.BaseProcess | None
    restart_at: float | None = None


class GaveUp(Exception):
    """A component kept dying: the reason the gateway stops."""


class Supervisor:
    def __init__(self, names: tuple[str, ...], spawn: Spawn, policy: SupervisorSettings, stop_timeout_s: float) -> None:
        self.names = names
        self.spawn = spawn
        self.policy = policy
        self.stop_timeout_s = stop_timeout_s
        self.children: dict[str, _Child] = {}
        self.deaths: dict[str, collections.deque[float]] = {name: collections.deque() for name in names}
        self.restarts = _restart_counter()

    def run(self, stopping: threading.Event) -> int:
        """Start every component and keep them running until `stopping`; 0 on a clean stop, 1 when it gave up."""
        for name in self.names:
            self.children[name] = _Child(self._start(name))
        status = 0
        try:
            while not stopping.wait(TICK_S):
                self._tend(time.monotonic())
        except GaveUp as reason:
            log.error("a component keeps failing; stopping the gateway", reason=str(reason))
            status = 1
        self.stop_all()
        return status

    def _tend(self, now: float) -> None:
        for name, child in self.children.items():
            if child.process is not None and not child.process.is_alive():
                delay = self._note_death(name, child.process.exitcode, now)
                child.process, child.restart_at = None, now + delay
            elif child.process is None and child.restart_at is not None and now >= child.restart_at:
                self.restarts.labels(name).inc()
                child.process, child.restart_at = self._start(name), None

    def _note_death(self, name: str, exitcode: int | None, now: float) -> float:
        deaths = self.deaths[name]
        deaths.append(now)
        while deaths and deaths[0] < now - self.policy.window_s:
            deaths.popleft()
        if len(deaths) >= self.policy.max_restarts:
            raise GaveUp(f"component {name} exited {len(deaths)} times within {self.policy.window_s:g}s (last exit code {exitcode})")
        delay = min(self.policy.first_restart_s * 2 ** (len(deaths) - 1), self.policy.max_restart_s)
        log.error("component exited; restarting it", component=name, exitcode=exitcode, restart_in_s=delay, recent_exits=len(deaths))
        return delay

    def _start(self, name: str) -> multiprocessing.process.BaseProcess:
        process = self.spawn(name)
        process.start()
        log.info("component started", component=name, pid=process.pid)
        return process

    def stop_all(self) -> None:
        """SIGTERM every running component, wait for them to finish their work in hand, kill the laggards."""
        running = {name: child.process for name, child in self.children.items() if child.process is not None}
        for process in running.values():
            if process.is_alive() and process.pid:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout_s
        for name, process in running.items():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("component did not stop in time; killing it", component=name)
                process.kill()
                process.join()
            log.info("component stopped", component=name, exitcode=process.exitcode)


def _restart_counter() -> Counter:
    """The restart counter, written where the HTTP processes' /metrics aggregates it.

    prometheus_client picks its value store when it is first imported; the supervisor
    imported it before it chose the multiprocess directory, so the store is picked again
    here (`values.get_value_class` reads PROMETHEUS_MULTIPROC_DIR now).
    """
    values.ValueClass = values.get_value_class()
    return Counter(
        "gateway_component_restarts",
        "Components restarted by the supervisor after they exited",
        ["component"],
        registry=None,
    )

