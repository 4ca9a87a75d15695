"""The outbox relay: publishes what the store holds but the broker has not confirmed.

Two feeds go through it. Accepted inbound messages: intake publishes inline
right after recording; when the broker is down or does not confirm, the message
stays `accepted` and its receipt still holds, because the relay publishes it as
soon as the broker is back. The gateway's own outbound messages: a worker
publishes them right after its handler commits; the relay takes over those it
could not. Either may so be published twice; consumers are idempotent.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from typing import Protocol

import structlog
from sqlalchemy.exc import SQLAlchemyError

from gateway import metrics
from gateway.broker.publisher import Published, Publisher, message_headers
from gateway.outbound.outbox import OutboundMessage, publish_outbound
from gateway.services import Services
from gateway.store.messages import StoredMessage

log = structlog.get_logger(__name__)
ACTOR = "relay"  # in the messages' history


class Feed(Protocol):
    name: str

    def pending(self, cutoff: dt.datetime, limit: int) -> Sequence[StoredMessage | OutboundMessage]: ...

    def publish(self, publisher: Publisher, item) -> Published: ...  # type: ignore[no-untyped-def]

    def mark_published(self, pks: list[int], at: dt.datetime) -> None: ...


class InboundFeed:
    name = "inbound"

    def __init__(self, services: Services) -> None:
        self.services = services

    def pending(self, cutoff: dt.datetime, limit: int) -> Sequence[StoredMessage]:
        return self.services.store.awaiting_publication(cutoff, limit)

    def publish(self, publisher: Publisher, item: StoredMessage) -> Published:
        return publisher.publish(
            self.services.topology.messages_exchange,
            item.route,
            item.body,
            message_id=item.message_id,
            correlation_id=item.correlation_id,
            headers=message_headers(item.pk, item.sender, item.document_type, item.function, item.digest),
        )

    def mark_published(self, pks: list[int], at: dt.datetime) -> None:
        self.services.store.mark_queued(pks, at, ACTOR)


class OutboundFeed:
    name = "outbound"

    def __init__(self, services: Services) -> None:
        self.services = services

    def pending(self, cutoff: dt.datetime, limit: int) -> Sequence[OutboundMessage]:
        return self.services.outbox.awaiting_publication(cutoff, limit)

    def publish(self, publisher: Publisher, item: OutboundMessage) -> Published:
        return publish_outbound(publisher, self.services.topology, item)

    def mark_published(self, pks: list[int], at: dt.datetime) -> None:
        self.services.outbox.mark_published(pks, at)


class OutboxRelay:
    def __init__(self, services: Services) -> None:
        self.services = services
        broker = services.settings.broker
        self.publisher = Publisher(
            broker.url,
            broker.publish_timeout_s,
            retry_after_s=broker.relay_interval_s,
            name=f"{broker.namespace}-relay",
            heartbeat_s=broker.heartbeat_s,
        )
        self.feeds: tuple[Feed, ...] = (InboundFeed(services), OutboundFeed(services))
        self._stopping = threading.Event()

    def run(self) -> None:
        broker = self.services.settings.broker
        log.info("outbox relay running", interval_s=broker.relay_interval_s, grace_s=broker.relay_grace_s)
        while not self._stopping.is_set():
            try:
                while self.relay_once() >= broker.relay_batch and not self._stopping.is_set():
                    pass  # a full batch: there may be more
            except SQLAlchemyError:
                log.warning("outbox relay cannot read the store", exc_info=True)
            self._stopping.wait(broker.relay_interval_s)
        self.publisher.close()

    def stop(self, *_: object) -> None:
        self._stopping.set()

    def relay_once(self, grace: dt.timedelta | None = None) -> int:
        """Publish one batch of each feed; returns how many messages were published."""
        broker = self.services.settings.broker
        cutoff = dt.datetime.now(dt.UTC) - (grace if grace is not None else dt.timedelta(seconds=broker.relay_grace_s))
        return sum(self._relay_feed(feed, cutoff, broker.relay_batch) for feed in self.feeds)

    def _relay_feed(self, feed: Feed, cutoff: dt.datetime, limit: int) -> int:
        pending = feed.pending(cutoff, limit)
        published = []
        for item in pending:
            outcome = feed.publish(self.publisher, item)
            if outcome is Published.BROKER_UNAVAILABLE:
                break  # try again next round
            if outcome is Published.OK:
                published.append(item.pk)
            else:  # this message cannot be routed (a route removed from the configuration?)
                log.error("outbox relay cannot route a message; it stays unpublished", feed=feed.name, message_id=item.message_id)
        feed.mark_published(published, dt.datetime.now(dt.UTC))
        if published:
            metrics.RELAYED.inc(len(published))
            log.info("outbox relay published messages", feed=feed.name, count=len(published), pending=len(pending))
        return len(published)
