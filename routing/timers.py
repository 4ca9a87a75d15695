"""The timers component: runs the handlers' periodic tasks (routes.toml [[timer]]), and the purge.

The purge (gateway/retention/purge.py) runs every `[retention] every_s` when that is set and some period
is configured; it makes its own transactions, one per batch, and several instances may run it at once.

Each run of a task is one transaction with a customs `Context`, exactly like a
handler: its effects and the messages it emits are committed together, and
what it emitted is published after the commit. Tasks must be safe to run in
several processes at once (they claim rows with conditional updates).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

import structlog

from customs.context import Context
from customs.rules import Rules
from gateway.retention.purge import Purger
from gateway.services import Services
from gateway.store.engine import writing
from routing.processing import context_for
from routing.publication import publish_emitted
from routing.table import RoutingTable, Timer, load_handler

log = structlog.get_logger(__name__)
ACTOR = "timers"  # in the history of the messages the tasks emit

Task = Callable[[Context], int]
PURGE = "purge"  # among the tasks' names in the log


class Timers:
    def __init__(self, services: Services, routes: RoutingTable, rules: Rules) -> None:
        self.services = services
        self.rules = rules
        self.tasks: list[tuple[Timer, Task]] = [
            (timer, load_handler(timer.task)) for timer in routes.timers  # type: ignore[misc]
        ]
        self._stopping = threading.Event()
        retention = services.settings.retention
        self.purger = (
            Purger.of(services.settings, services.engine) if retention.every_s and not retention.keeps_everything else None
        )

    def run(self) -> None:
        due = {timer.name: 0.0 for timer, _ in self.tasks}
        if self.purger is not None:
            due[PURGE] = 0.0
        log.info("timers running", tasks=list(due))
        while not self._stopping.is_set():
            now = time.monotonic()
            for timer, task in self.tasks:
                if now >= due[timer.name]:
                    self.run_once(timer, task)
                    due[timer.name] = time.monotonic() + timer.every_s
            if self.purger is not None and now >= due[PURGE]:
                self.purge(self.purger)
                due[PURGE] = time.monotonic() + self.services.settings.retention.every_s
            next_due = min(due.values(), default=time.monotonic() + 1.0)
            self._stopping.wait(max(0.05, next_due - time.monotonic()))

    def run_once(self, timer: Timer, task: Task) -> int:
        """Run one task in one transaction; a failure is logged and the task runs again next time."""
        try:
            with writing(self.services.engine) as tx:
                now = dt.datetime.now(dt.UTC)
                context = context_for(self.services, self.rules, tx, now, f"timer:{timer.name}", ACTOR)
                done = task(context)
        except Exception:
            log.exception("timer task failed", task=timer.name)
            return 0
        publish_emitted(self.services, context.emitted)
        if done:
            log.info("timer task done", task=timer.name, count=done)
        return done

    def purge(self, purger: Purger) -> None:
        """One purge; a failure is logged (what it archived without removing is archived again next time)."""
        try:
            purger.run()
        except Exception:
            log.exception("purge failed")

    def stop(self, *_: object) -> None:
        self._stopping.set()
