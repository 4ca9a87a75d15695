"""Route "platforms": PLATFORM_REGISTRATION: the registry of platforms and websites (customs.platforms)."""

from __future__ import annotations

from customs import platforms
from customs.context import Context
from gateway.inbound import InboundMessage


def handler(message: InboundMessage, context: Context) -> str:
    return platforms.receive(message, context)
