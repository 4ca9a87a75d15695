"""Publishing what handlers emitted, right after their transaction commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import structlog

from gateway.broker.publisher import Published
from gateway.outbound.outbox import OutboundMessage, publish_outbound
from gateway.services import Services

log = structlog.get_logger(__name__)


def publish_emitted(services: Services, emitted: Sequence[OutboundMessage]) -> None:
    """Publish committed outbound messages for push; any the broker does not confirm are left to the outbox relay.

    Messages for recipients that pull are not published: they wait in the outbox.
    """
    published = []
    for message in (m for m in emitted if m.push):
        if publish_outbound(services.publisher(), services.topology, message) is not Published.OK:
            log.warning("outbound message left to the relay", message_id=message.message_id, recipient=message.recipient)
            break
        published.append(message.pk)
    services.outbox.mark_published(published, dt.datetime.now(dt.UTC))
