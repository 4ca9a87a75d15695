"""The one broker-consumer loop: connect, declare, consume, pump events, reconnect.

The AMQP door, the workers and delivery each consume queues the same way; only
what they consume and how they finish differ. `ConsumerLoop.run` owns the
connection: it opens it, declares the topology, lets the component `start`
consuming on it, services it until `stop()`, lets the component `drain` what is
in flight, and closes it. When the broker goes away (or a callback fails) the
connection is dropped — the broker hands unacknowledged messages out again — and
the loop reconnects after a pause.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pika
import pika.exceptions
import structlog

from gateway.broker.connection import connect
from gateway.broker.topology import Topology
from gateway.config import BrokerSettings

log = structlog.get_logger(__name__)

RECONNECT_PAUSE_S = 1.0
PUMP_S = 0.5  # how often a quiet loop checks whether it must stop

Start = Callable[[pika.BlockingConnection], None]
Drain = Callable[[pika.BlockingConnection], None]


class ConsumerLoop:
    def __init__(self, broker: BrokerSettings, topology: Topology, component: str) -> None:
        self.broker = broker
        self.topology = topology
        self.component = component
        self.stopping = threading.Event()

    def run(self, start: Start, drain: Drain | None = None, disconnected: Callable[[], None] | None = None) -> None:
        """Consume until `stop()`.

        `start(connection)` opens the component's channels and consumers; `drain(connection)`
        runs once on a clean stop, before the connection closes; `disconnected()` runs after
        every connection ends, cleanly or not.
        """
        while not self.stopping.is_set():
            connection: pika.BlockingConnection | None = None
            try:
                connection = connect(
                    self.broker.url, self.broker.publish_timeout_s, f"{self.broker.namespace}-{self.component}", self.broker.heartbeat_s
                )
                self.topology.declare(connection.channel())
                start(connection)
                log.info("consuming", component=self.component)
                while not self.stopping.is_set():
                    connection.process_data_events(time_limit=PUMP_S)
                if drain is not None:
                    drain(connection)
            except (pika.exceptions.AMQPError, OSError) as exc:
                log.warning("lost the broker; reconnecting", component=self.component, error=repr(exc))
                self.stopping.wait(RECONNECT_PAUSE_S)
            except Exception:  # e.g. the store failed in a callback: unacknowledged messages come back
                log.exception("consumer failed; reconnecting", component=self.component)
                self.stopping.wait(RECONNECT_PAUSE_S)
            finally:
                close_quietly(connection)
                if disconnected is not None:
                    disconnected()

    def stop(self, *_: object) -> None:
        self.stopping.set()


def close_quietly(connection: pika.BlockingConnection | None) -> None:
    """Close a connection that may already be gone."""
    if connection is not None and connection.is_open:
        try:
            connection.close()
        except (pika.exceptions.AMQPError, OSError):
            pass
