"""Processing one stored message: its route's handlers, in one transaction, exactly once.

`process` is what a worker does with a message once it has it, without the
broker: the handlers' effects, the messages they emit, the processing records and
the message's move to `processed` are committed together, and a message whose
handlers have all run is not run again. The worker adds the broker around it
(acknowledge, retry, dead-letter).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from customs.context import Context
from customs.rules import Rules
from gateway.envelope import PartyRef
from gateway.inbound import InboundMessage
from gateway.lifecycle import INBOUND, MessageStatus, transition
from gateway.outbound.outbox import OutboundMessage
from gateway.services import Services
from gateway.store.engine import writing
from gateway.store.messages import StoredMessage
from gateway.store.tables import processing


class Handler(Protocol):
    """What routes.toml names: `(message, context) -> str`, a short description of what it did."""

    def __call__(self, message: InboundMessage, context: Context) -> str: ...


NamedHandler = tuple[str, Handler]


@dataclass(frozen=True, slots=True)
class Processed:
    outcome: str  # "processed", or "duplicate" when every handler had already run
    emitted: tuple[OutboundMessage, ...] = ()


def context_for(
    services: Services,
    rules: Rules,
    tx: object,
    now: dt.datetime,
    correlation_id: str,
    actor: str,
    source: int | None = None,
) -> Context:
    """The narrow world a customs function gets for one transaction, acting as `actor` (a component's name)."""
    gateway = services.settings.gateway
    return Context(
        tx=tx,  # type: ignore[arg-type]
        now=now,
        rules=rules,
        parties=services.parties,
        gateway=PartyRef(gateway.identity, gateway.name, gateway.country),
        outgoing=services.outbox,
        correlation_id=correlation_id,
        actor=actor,
        certificates=services.certificates_in_use,
        source=source,
    )


def process(
    services: Services,
    rules: Rules,
    stored: StoredMessage,
    handlers: Sequence[NamedHandler],
    actor: str,
    now: dt.datetime | None = None,
) -> Processed:
    """Run the handlers that have not yet run for `stored`, and record each, in one transaction.

    The move to `processed` is refused for a message that is processed already (a
    handler was added to its route since): harmless, the new handlers' work commits.
    """
    now = now or dt.datetime.now(dt.UTC)
    try:
        with writing(services.engine) as tx:
            done = set(tx.execute(select(processing.c.handler).where(processing.c.message == stored.pk)).scalars())
            pending = [(name, handler) for name, handler in handlers if name not in done]
            if not pending:
                return Processed("duplicate")
            context = context_for(services, rules, tx, now, stored.correlation_id, actor, source=stored.pk)
            message = InboundMessage(stored)
            outcomes = []
            for name, handler in pending:
                result = handler(message, context)
                outcomes.append(result)
                tx.execute(insert(processing).values(message=stored.pk, handler=name, processed_at=now, outcome=result[:4000]))
            transition(
                tx, INBOUND, stored.pk, MessageStatus.PROCESSED, actor=actor, at=now, reason="; ".join(outcomes),
                values={"processed_at": now, "last_error": None},
            )
    except IntegrityError:
        return Processed("duplicate")  # another worker committed the same message first
    return Processed("processed", tuple(context.emitted))
