"""Opening broker connections with the gateway's timeouts."""

from __future__ import annotations

import pika

DEFAULT_HEARTBEAT_S = 30


def connect(
    url: str, timeout_s: float = 5.0, name: str = "gateway", heartbeat_s: int = DEFAULT_HEARTBEAT_S
) -> pika.BlockingConnection:
    """A blocking connection; its heartbeats are serviced only while the owner pumps it (process_data_events)."""
    return pika.BlockingConnection(parameters(url, timeout_s, name, heartbeat_s))


def parameters(url: str, timeout_s: float, name: str, heartbeat_s: int) -> pika.URLParameters:
    """One attempt, every wait bounded by `timeout_s`, and the connection named for the broker's console."""
    result = pika.URLParameters(url)
    result.connection_attempts = 1
    result.socket_timeout = timeout_s
    result.stack_timeout = timeout_s
    result.blocked_connection_timeout = timeout_s
    result.heartbeat = heartbeat_s
    result.client_properties = {"connection_name": name}
    return result
