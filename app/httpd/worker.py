"""The gunicorn worker class of the HTTP component: uvicorn's event loop with the header deadline."""

from __future__ import annotations

import os
import signal
from typing import Any

from uvicorn_worker import UvicornWorker

from app.httpd.protocol import with_header_timeout
from gateway.config import HttpSettings


def worker_class(http: HttpSettings) -> type[UvicornWorker]:
    """A UvicornWorker configured from `[http]` (gunicorn takes the class itself as `worker_class`)."""
    config: dict[str, Any] = {
        "loop": "uvloop",
        "http": with_header_timeout(http.header_timeout_s),
        "lifespan": "off",
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,
        "limit_concurrency": http.max_connections,
    }
    return type("GatewayHttpWorker", (_OrphanAwareWorker,), {"CONFIG_KWARGS": config})


class _OrphanAwareWorker(UvicornWorker):
    """Stops when its gunicorn master is gone (gunicorn's own workers check this on every heartbeat;
    the uvicorn worker does not, so a master killed with SIGKILL left its workers serving for ever)."""

    async def callback_notify(self) -> None:
        if os.getppid() != self.ppid:
            self.log.info("the gunicorn master is gone; stopping")
            os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's own handler: finish the requests in hand, then exit
            return
        await super().callback_notify()
