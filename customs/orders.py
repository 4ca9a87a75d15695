"""ECOM_ORDER: the order book, one version per (platform, order, sender).

Marketplaces, sellers and logistics firms may all send the same order. Each
sender's latest version is kept; the one that counts is that of the party
responsible for the customs procedure (business.toml [orders]
responsible_roles), the others corroborate it. An order that arrives can
complete a declaration that was waiting for it, which is then decided.
"""

from __future__ import annotations

import structlog
from sqlalchemy import and_, insert, select, update

from customs.context import Context
from customs.decisions import decide_if_complete
from customs.documents import read_order
from customs.orderbook import waiting_for
from customs.state import orders
from gateway.inbound import InboundMessage

log = structlog.get_logger(__name__)

def receive(message: InboundMessage, context: Context) -> str:
    assert message.content is not None
    facts = read_order(message.content)
    key = (facts["platform_id"], facts["order_id"])
    sender = message.header.sender.identity
    party = context.parties.get(sender)
    rules = context.rules.business
    role = min(party.roles, key=rules.priority_of) if party and party.roles else "unknown"
    status = "cancelled" if message.header.function == "03" else "active"
    values = {
        "sender_role": role,
        "priority": rules.priority_of(role),
        "direction": facts["direction"],
        "status": status,
        "facts": facts,
        "message": message.stored.pk,
        "updated_at": context.now,
    }
    mine = and_(orders.c.platform_id == key[0], orders.c.order_id == key[1], orders.c.sender == sender)
    if context.tx.execute(select(orders.c.id).where(mine)).first():
        context.tx.execute(update(orders).where(mine).values(values))
    else:
        context.tx.execute(
            insert(orders).values(platform_id=key[0], order_id=key[1], sender=sender, received_at=context.now, **values)
        )
    decided = [number for number in waiting_for(context.tx, key) if decide_if_complete(context, number)]
    log.info("order recorded", order_id=key[1], platform=key[0], status=status, role=role, decided=decided)
    return f"order {key[0]}/{key[1]} {status} from {sender} ({role}); decided {len(decided)} waiting declaration(s)"
