"""The RESULT_NOTICE payload: a declaration's final outcome, with the result of each item it names.

The function code of the envelope follows the outcome (DESIGN, function codes):
23 completed, 24 cancellation confirmed, and 26 (decision) for a declaration
refused on its merits; 22 stays the intake's rejection of a message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from customs.notices import PayloadBuilder, clip
from gateway.outbound.compose import timestamp

FUNCTION_OF_OUTCOME = {"COMPLETED": "23", "CANCELLED": "24", "REJECTED": "26"}


@dataclass(frozen=True)
class NoticeItem:
    line: int
    result: str  # CLEARED | REJECTED | CANCELLED
    reason: str | None = None


def result_notice(
    number: str, outcome: str, decided_at: dt.datetime, items: Sequence[NoticeItem], text: str | None = None
) -> etree._Element:
    builder = PayloadBuilder("RESULT_NOTICE")
    builder.add(None, "declarationNumber", number)
    builder.add(None, "outcome", outcome)
    builder.add(None, "decidedAt", timestamp(decided_at))
    if items:
        parent = builder.add(None, "items")
        for item in items:
            element = builder.add(parent, "item")
            builder.add(element, "lineNumber", str(item.line))
            builder.add(element, "result", item.result)
            if item.reason:
                builder.add(element, "reason", clip(item.reason, 512))
    if text:
        builder.add(None, "text", clip(text, 1024))
    return builder.root
