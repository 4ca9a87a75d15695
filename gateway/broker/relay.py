"""The outbox relay: publishes accepted messages that the broker has not confirmed.

Intake publishes inline right after recording; when the broker is down or does
not confirm, the message stays `accepted` in the store and its receipt still
holds, because this relay publishes it as soon as the broker is back. A message
may so be published twice (inline and by the relay); the workers are idempotent.
"""

from __future__ import annotations

import datetime as dt
import threading

import structlog
from sqlalchemy.exc import SQLAlchemyError

from gateway import metrics
from gateway.broker.publisher import Published, Publisher, message_headers
from gateway.services import Services
from gateway.store.messages import StoredMessage

log = structlog.get_logger(__name__)


class OutboxRelay:
    def __init__(self, services: Services) -> None:
        self.services = services
        broker = services.settings.broker
        self.publisher = Publisher(broker.url, broker.publish_timeout_s, retry_after_s=broker.relay_interval_s, name=f"{broker.namespace}-relay")
        self._stopping = threading.Event()

    def run(self) -> None:
        broker = self.services.settings.broker
        log.info("outbox relay running", interval_s=broker.relay_interval_s, grace_s=broker.relay_grace_s)
        while not self._stopping.is_set():
            try:
                while self.relay_once() == broker.relay_batch and not self._stopping.is_set():
                    pass  # a full batch: there may be more
            except SQLAlchemyError:
                log.warning("outbox relay cannot read the store", exc_info=True)
            self._stopping.wait(broker.relay_interval_s)
        self.publisher.close()

    def stop(self, *_: object) -> None:
        self._stopping.set()

    def relay_once(self, grace: dt.timedelta | None = None) -> int:
        """Publish one batch of unconfirmed messages; returns how many were published."""
        broker = self.services.settings.broker
        cutoff = dt.datetime.now(dt.UTC) - (grace if grace is not None else dt.timedelta(seconds=broker.relay_grace_s))
        pending = self.services.store.awaiting_publication(cutoff, broker.relay_batch)
        published = []
        for message in pending:
            outcome = self._publish(message)
            if outcome is Published.BROKER_UNAVAILABLE:
                break  # try again next round
            if outcome is Published.OK:
                published.append(message.pk)
            else:  # this message cannot be routed (a route removed from the configuration?)
                log.error("outbox relay cannot route a message; it stays accepted", message_id=message.message_id, route=message.route)
        self.services.store.mark_queued(published, dt.datetime.now(dt.UTC))
        if published:
            metrics.RELAYED.inc(len(published))
            log.info("outbox relay published messages", count=len(published), pending=len(pending))
        return len(published)

    def _publish(self, message: StoredMessage) -> Published:
        return self.publisher.publish(
            self.services.topology.messages_exchange,
            message.route,
            message.body,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            headers=message_headers(message.pk, message.sender, message.document_type, message.function, message.digest),
        )
