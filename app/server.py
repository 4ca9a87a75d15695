"""Running the gateway: one supervisor process and one child process per component.

    http     gunicorn (one process per core) running app/httpd's event loop in front of gateway.adapters.http
    amqp     the AMQP door
    relay    the outbox relay
    workers  the handler workers
    timers   the handlers' periodic tasks (routes.toml [[timer]]), e.g. deciding declarations that waited long enough
    delivery pushes the gateway's own messages to the parties with an endpoint (gateway/outbound/delivery.py)
    console  the operators' console and admin API (console/), on its own address ([console] bind)

Roles group components for scaling out: `ingress` = http + amqp + relay, `workers`
= workers + timers, `delivery` = delivery, `console` = console; no role runs them all. The supervisor prepares what the components
share (store schema, party registry, broker topology), starts them, and on
SIGINT/SIGTERM stops them and waits for them to finish their work in hand.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pika.exceptions
from setproctitle import setproctitle
import structlog

from app.httpd.affinity import assign_core, pin_to_core
from app.registry_reload import RegistryWatcher
from app.supervisor import Supervisor
from app.wiring import Assembly, assemble
from gateway import logs
from gateway.broker.connection import connect
from gateway.config import Settings, load_settings
from gateway.exceptions import ConfigurationError
from gateway.services import Services
from gateway.threads import start_thread

ROLES: dict[str, tuple[str, ...]] = {
    "all": ("http", "amqp", "relay", "workers", "timers", "delivery", "console"),
    "ingress": ("http", "amqp", "relay"),
    "workers": ("workers", "timers"),
    "delivery": ("delivery",),
    "console": ("console",),
}
STOP_TIMEOUT_S = 30.0
log = structlog.get_logger(__name__)


def serve(config: str | None, role: str, bind: str | None) -> int:
    """Run the components of `role` until interrupted; returns the exit status."""
    setproctitle(f"gateway: supervisor ({role})")
    settings = load_settings(config)
    logs.configure(settings.log_format, settings.log_level, "supervisor")
    _prepare(settings)
    metrics_dir = Path(tempfile.mkdtemp(prefix="gateway-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    # Each component forks from a process that imported the gateway once (a component's start, or restart after a
    # crash, then takes a fraction of a fresh interpreter's), not from the supervisor: no thread or connection of
    # the supervisor's is inherited.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])

    def spawn(name: str) -> multiprocessing.process.BaseProcess:
        return context.Process(target=run_component, args=(name, config, bind), name=f"gateway-{name}")

    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    watcher = RegistryWatcher(settings)
    start_thread(lambda: watcher.run(stopping), "registry-watcher")
    exit_status = Supervisor(ROLES[role], spawn, settings.supervisor, STOP_TIMEOUT_S).run(stopping)
    shutil.rmtree(metrics_dir, ignore_errors=True)
    log.info("gateway stopped")
    return exit_status


def _prepare(settings: Settings) -> None:
    """Fail fast on configuration; create the store schema, load parties, declare the topology."""
    if not settings.party_key(settings.gateway.identity).exists():
        raise ConfigurationError(
            f"the gateway's key {settings.party_key(settings.gateway.identity)} is missing; run `gateway keys init`"
        )
    assembly = assemble(settings, sync_registry=True)
    try:
        declare_topology(assembly.services)
    finally:
        assembly.close()


def declare_topology(services: Services) -> bool:
    broker = services.settings.broker
    try:
        connection = connect(broker.url, broker.publish_timeout_s, f"{broker.namespace}-setup")
    except (pika.exceptions.AMQPError, OSError) as exc:
        log.warning("broker unreachable at start; components will declare the topology when it is back", error=repr(exc))
        return False
    try:
        services.topology.declare(connection.channel())
    finally:
        connection.close()
    return True


def run_component(name: str, config: str | None, bind: str | None) -> None:
    """The body of one child process."""
    setproctitle(f"gateway: {name}")  # in ps and top; the benchmark tells the components apart by it
    settings = load_settings(config)
    logs.configure(settings.log_format, settings.log_level, name)
    if name == "http":
        _run_http(config, settings, bind)
        return
    assembly = assemble(settings)
    runner = _component(name, assembly)
    signal.signal(signal.SIGTERM, runner.stop)
    signal.signal(signal.SIGINT, runner.stop)
    try:
        runner.run()
    finally:
        assembly.close()


def _component(name: str, assembly: Assembly) -> Component:
    from gateway.adapters.amqp import AmqpDoor
    from gateway.adapters.pushers import PUSHERS
    from console.context import Console
    from console.server import ConsoleServer
    from gateway.broker.relay import OutboxRelay
    from gateway.outbound.delivery import Delivery

    services = assembly.services
    factories: dict[str, Callable[[], Component]] = {
        "amqp": lambda: AmqpDoor(assembly.pipeline()),
        "relay": lambda: OutboxRelay(services),
        "workers": assembly.worker,
        "timers": assembly.timers,
        "delivery": lambda: Delivery(services, PUSHERS),
        "console": lambda: ConsoleServer(Console.of(services, assembly.rules)),
    }
    return factories[name]()


def _init_http_worker(settings: Settings, worker: Any) -> None:
    logs.configure(settings.log_format, settings.log_level, "http")
    core = getattr(worker, "core", None)  # given by assign_core when `[http] pin_to_core` (app/httpd/affinity.py)
    if core is not None:
        pin_to_core(core)
    # A thread that returns from I/O (a commit, a broker confirm) waits for the GIL for up
    # to the switch interval while the other request threads compute; at the default 5 ms
    # that wait, repeated on every I/O call, dominated the request time (see README, Performance).
    sys.setswitchinterval(settings.http.switch_interval_s)


class Component(Protocol):
    """A long-running part of the gateway: `run` until `stop` is called (from a signal handler)."""

    def run(self) -> None: ...

    def stop(self, *_: object) -> None: ...


def _run_http(config: str | None, settings: Settings, bind: str | None) -> None:
    from gunicorn.app.base import BaseApplication
    from prometheus_client import multiprocess

    from app.httpd.worker import worker_class

    http = settings.http

    class GatewayServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            values = {
                "bind": bind or http.bind,
                "workers": http.processes or os.cpu_count() or 1,
                "worker_class": worker_class(http),
                "timeout": http.timeout_s,
                "graceful_timeout": http.timeout_s,
                "keepalive": 5,
                "limit_request_line": 8190,
                "proc_name": "gateway-http",
                "child_exit": lambda _server, worker: multiprocess.mark_process_dead(worker.pid),
                "post_worker_init": lambda worker: _init_http_worker(settings, worker),
            }
            if http.pin_to_core:
                values["pre_fork"] = assign_core  # each new worker is given its core
            if "control_socket_disable" in self.cfg.settings:
                # Newer gunicorn opens a control socket at one fixed path per user: two gateways
                # on one host would fight over it, and the supervisor does its job anyway.
                values["control_socket_disable"] = True
            for key, value in values.items():
                self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            # Runs in each worker after fork: connections are never shared across processes.
            from app.httpd.bridge import BodyLimits, BufferingBridge
            from gateway.adapters.http import GatewayApp

            doors = GatewayApp(assemble(load_settings(config)).pipeline())
            limits = BodyLimits(doors.body_limit, http.body_timeout_s, http.body_min_rate)
            return BufferingBridge(doors, limits, http.threads)

    GatewayServer().run()
