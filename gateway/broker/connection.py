"""Opening broker connections with the gateway's timeouts."""

from __future__ import annotations

import pika


def connect(url: str, timeout_s: float = 5.0, name: str = "gateway") -> pika.BlockingConnection:
    parameters = pika.URLParameters(url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = timeout_s
    parameters.stack_timeout = timeout_s
    parameters.blocked_connection_timeout = timeout_s
    parameters.heartbeat = 30
    parameters.client_properties = {"connection_name": name}
    return pika.BlockingConnection(parameters)
