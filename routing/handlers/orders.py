"""Route "orders": ECOM_ORDER: the order book (customs.orders)."""

from __future__ import annotations

from customs import orders
from customs.context import Context
from gateway.inbound import InboundMessage


def handler(message: InboundMessage, context: Context) -> str:
    return orders.receive(message, context)
