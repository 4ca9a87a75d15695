"""The sharing handler: copies an inbound document to its subscribers (customs.sharing).

It runs after the business handler of routes whose handler does not share by
itself (orders, platforms, policy). Whether goods need a ministry's inspection is
only known when a declaration is decided, so here only "always" subscriptions
apply.
"""

from __future__ import annotations

from customs.context import Context
from customs.sharing import share
from gateway.inbound import InboundMessage


def handler(message: InboundMessage, context: Context) -> str:
    header, payload = message.header, message.content
    if payload is None:
        return "nothing to share"
    copies = share(
        context,
        header.document_type,
        header.function,
        payload,
        reference=header.reference,
        pre_reference=header.message_id,
    )
    return f"shared {header.document_type}/{header.function}: {len(copies)} cop{'y' if len(copies) == 1 else 'ies'}"
