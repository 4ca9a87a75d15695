"""Route "declarations": ECOM_DECLARATION: declare, amend, cancel (customs.declarations)."""

from __future__ import annotations

from customs import declarations
from customs.context import Context
from gateway.inbound import InboundMessage


def handler(message: InboundMessage, context: Context) -> str:
    return declarations.receive(message, context)
