"""The record handler: notes that a message reached processing, and nothing more.

It is the route target for document types that have no business handler; its
effect is the processing record the worker commits with it.
"""

from __future__ import annotations

from customs.context import Context
from gateway.inbound import InboundMessage


def handler(message: InboundMessage, context: Context) -> str:
    header = message.header  # parsing proves the stored bytes are still a readable envelope
    return f"recorded {header.document_type}/{header.function} from {header.sender.identity}"
