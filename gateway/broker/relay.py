"""The outbox relay: publishes what the store holds but the broker has not confirmed.

Two feeds go through it. Accepted inbound messages: the intake process's forwarder
publishes them right after recording (gateway/broker/forwarder.py); when the broker
is down or does not confirm, the message stays `accepted` and its receipt still
holds, because the relay publishes it as soon as the broker is back. The gateway's
own outbound messages: a worker publishes them right after its handler commits; the
relay takes over those it could not. Either may so be published twice; consumers are
idempotent. A batch goes out with all its confirms in flight (`ConfirmingPublisher`).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from typing import Protocol

import structlog
from sqlalchemy.exc import SQLAlchemyError

from gateway import metrics
from gateway.broker.confirming import ConfirmingPublisher
from gateway.broker.forwarder import accepted_message
from gateway.broker.publisher import Outgoing, Published
from gateway.outbound.outbox import OutboundMessage, outbound_message
from gateway.services import Services
from gateway.store.messages import StoredMessage

log = structlog.get_logger(__name__)
ACTOR = "relay"  # in the messages' history


class Feed(Protocol):
    name: str

    def pending(self, cutoff: dt.datetime, limit: int) -> Sequence[StoredMessage | OutboundMessage]: ...

    def outgoing(self, item) -> Outgoing: ...  # type: ignore[no-untyped-def]

    def mark_published(self, pks: list[int], at: dt.datetime) -> None: ...


class InboundFeed:
    name = "inbound"

    def __init__(self, services: Services) -> None:
        self.services = services

    def pending(self, cutoff: dt.datetime, limit: int) -> Sequence[StoredMessage]:
        return self.services.store.awaiting_publication(cutoff, limit)

    def outgoing(self, item: StoredMessage) -> Outgoing:
        return accepted_message(
            self.services.topology.messages_exchange,
            item.route,
            item.body,
            pk=item.pk,
            message_id=item.message_id,
            correlation_id=item.correlation_id,
            sender=item.sender,
            document_type=item.document_type,
            function=item.function,
            digest=item.digest,
        )

    def mark_published(self, pks: list[int], at: dt.datetime) -> None:
        self.services.store.mark_queued(pks, at, ACTOR)


class OutboundFeed:
    name = "outbound"

    def __init__(self, services: Services) -> None:
        self.services = services

    def pending(self, cutoff: dt.datetime, limit: int) -> Sequence[OutboundMessage]:
        return self.services.outbox.awaiting_publication(cutoff, limit)

    def outgoing(self, item: OutboundMessage) -> Outgoing:
        return outbound_message(self.services.topology, item)

    def mark_published(self, pks: list[int], at: dt.datetime) -> None:
        self.services.outbox.mark_published(pks, at)


class OutboxRelay:
    def __init__(self, services: Services) -> None:
        self.services = services
        broker = services.settings.broker
        self.publisher = ConfirmingPublisher(
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
        outcomes = self.publisher.publish_many([feed.outgoing(item) for item in pending])
        settled = list(zip(pending, outcomes, strict=True))
        published = [item.pk for item, outcome in settled if outcome is Published.OK]
        if refused := [item.message_id for item, outcome in settled if outcome is Published.REFUSED]:
            log.error(  # a route removed from the configuration?
                "outbox relay cannot route messages; they stay unpublished",
                feed=feed.name, message_ids=refused[:20], count=len(refused),
            )
        feed.mark_published(published, dt.datetime.now(dt.UTC))
        if published:
            metrics.RELAYED.inc(len(published))
            log.info("outbox relay published messages", feed=feed.name, count=len(published), pending=len(pending))
        return len(published)
