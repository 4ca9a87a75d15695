"""Routes "asean" and "replies": documents exchanged with the NSW and the partner single windows (customs.forwarding)."""

from __future__ import annotations

from customs import forwarding
from customs.context import Context
from gateway.inbound import InboundMessage


def handler(message: InboundMessage, context: Context) -> str:
    """Forward, or check and answer, an exchanged document per partners.toml."""
    return forwarding.receive(message, context)


def relay(message: InboundMessage, context: Context) -> str:
    """An answer to a document we forwarded goes back to the party that sent us the document."""
    return forwarding.relay(message, context)
