"""The gunicorn worker class of the HTTP component: uvicorn's event loop with the header deadline."""

from __future__ import annotations

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
    return type("GatewayHttpWorker", (UvicornWorker,), {"CONFIG_KWARGS": config})
