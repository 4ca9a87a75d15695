"""Opening broker connections with the gateway's timeouts."""

from __future__ import annotations

import pika

DEFAULT_HEARTBEAT_S = 30


def connect(
    url: str, timeout_s: float = 5.0, name: str = "gateway", heartbeat_s: int = DEFAULT_HEARTBEAT_S
) -> pika.BlockingConnection:
    """A blocking connection; its heartbeats are serviced only while the owner pumps it (process_data_events)."""
    parameters = pika.URLParameters(url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = timeout_s
    parameters.stack_timeout = timeout_s
    parameters.blocked_connection_timeout = timeout_s
    parameters.heartbeat = heartbeat_s
    parameters.client_properties = {"connection_name": name}
    return pika.BlockingConnection(parameters)
