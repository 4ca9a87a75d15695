"""Route "inspection": INSPECTION_RESULT: specialised-inspection results against their deadline (customs.inspection)."""

from __future__ import annotations

from customs import inspection
from customs.context import Context
from gateway.inbound import InboundMessage


def handler(message: InboundMessage, context: Context) -> str:
    return inspection.receive(message, context)
