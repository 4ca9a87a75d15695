"""Queries over the order book that declarations use."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from customs.state import DeclarationStatus, declaration_orders, declarations, orders

OrderKey = tuple[str, str]  # (platform id, order id)


def winning_orders(tx: Connection, keys: Iterable[OrderKey]) -> dict[OrderKey, dict[str, Any] | None]:
    """For each key, the version of the party responsible for the customs procedure (None: never received)."""
    keys = list(dict.fromkeys(keys))
    found: dict[OrderKey, dict[str, Any] | None] = dict.fromkeys(keys)
    if not keys:
        return found
    condition = or_(*(and_(orders.c.platform_id == p, orders.c.order_id == o) for p, o in keys))
    rows = tx.execute(select(orders).where(condition).order_by(orders.c.priority, orders.c.updated_at.desc(), orders.c.id.desc()))
    for row in rows:
        key = (row.platform_id, row.order_id)
        if found[key] is None:
            found[key] = dict(row._mapping)
    return found


def waiting_for(tx: Connection, key: OrderKey) -> list[str]:
    """The numbers of the declarations that refer to this order and still wait for their orders."""
    query = (
        select(declarations.c.number)
        .join(declaration_orders, declaration_orders.c.declaration == declarations.c.number)
        .where(declaration_orders.c.platform_id == key[0], declaration_orders.c.order_id == key[1])
        .where(declarations.c.status == DeclarationStatus.WAITING_ORDERS.value)
    )
    return list(tx.execute(query).scalars())
