"""The `console` component: the admin API under uvicorn on its own address, and the daily seal of the audit trail."""

from __future__ import annotations

import datetime as dt
import threading

import structlog
import uvicorn

from console import audit
from console.app import create_app
from console.context import Console
from customs.timestamps import as_utc
from gateway.threads import start_thread

log = structlog.get_logger(__name__)
SEAL_CHECK_S = 60.0  # how often the sealer looks whether a seal is due


def split_bind(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class ConsoleServer:
    def __init__(self, console: Console) -> None:
        self.console = console
        settings = console.services.settings.console
        host, port = split_bind(settings.bind)
        config = uvicorn.Config(
            create_app(console), host=host, port=port, log_config=None, access_log=False, proxy_headers=False,
            server_header=False, lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.stopping = threading.Event()

    def run(self) -> None:
        sealer = start_thread(self.seal_when_due, "audit-sealer")
        log.info("console listening", bind=self.console.services.settings.console.bind)
        try:
            self.server.run()
        finally:
            self.stopping.set()
            sealer.join(timeout=5)

    def stop(self, *_: object) -> None:
        self.server.should_exit = True
        self.stopping.set()

    def seal_when_due(self) -> None:
        """Sign the audit trail's head whenever the last seal is older than `seal_interval_s`."""
        services = self.console.services
        interval = dt.timedelta(seconds=services.settings.console.seal_interval_s)
        while not self.stopping.is_set():
            try:
                with services.engine.connect() as connection:
                    last = audit.last_seal_at(connection)
                if last is None or dt.datetime.now(dt.UTC) - as_utc(last) >= interval:
                    head = audit.seal(services.engine, services.keys.current)
                    if head is not None:
                        log.info("audit trail sealed", head=head)
            except Exception:  # the store may be away for a while: try again at the next check
                log.warning("cannot seal the audit trail now", exc_info=True)
            self.stopping.wait(SEAL_CHECK_S)
