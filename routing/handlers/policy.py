"""Route "policy": POLICY_NOTICE: ministries' exception and quantity lists (customs.policy)."""

from __future__ import annotations

from customs import policy
from customs.context import Context
from gateway.inbound import InboundMessage


def handler(message: InboundMessage, context: Context) -> str:
    return policy.receive(message, context)
