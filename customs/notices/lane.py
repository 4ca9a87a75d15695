"""The LANE_NOTICE payload: the lane, why (in plain language), and each item's exemption decision.

The declarant sees the profiles' reasons, never their conditions, and what to
do next; the examiner's instructions stay in the decision record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from lxml import etree

from customs.notices import PayloadBuilder, clip, symbol
from gateway.outbound.compose import timestamp

_NEXT_STEP = {
    "GREEN": "",
    "YELLOW": "Xuất trình hồ sơ, chứng từ để cơ quan hải quan kiểm tra trước khi thông quan.",
    "RED": "Xuất trình hàng hóa để cơ quan hải quan kiểm tra thực tế trước khi thông quan.",
}


def lane_notice(number: str, lane: str, decided_at: dt.datetime, reasons: Sequence[tuple[str, str]], items: Sequence[dict[str, Any]]) -> etree._Element:
    builder = PayloadBuilder("LANE_NOTICE")
    builder.add(None, "declarationNumber", number)
    builder.add(None, "lane", lane)
    builder.add(None, "decidedAt", timestamp(decided_at))
    if reasons:
        parent = builder.add(None, "reasons")
        for code, text in reasons[:100]:
            builder.reason(parent, symbol(code), text)
    parent = builder.add(None, "items")
    for item in items:
        element = builder.add(parent, "item")
        builder.add(element, "lineNumber", str(item["line"]))
        builder.add(element, "exemption", item["exemption"])
        builder.add(element, "rule", symbol(item["rule"]))
        if item.get("list_entry"):
            builder.add(element, "listEntry", clip(item["list_entry"], 70))
        builder.add(element, "text", clip(item["text"], 512))
    instructions = _instructions(lane, items)
    if instructions:
        builder.add(None, "instructions", clip(instructions, 1024))
    return builder.root



def _instructions(lane: str, items: Sequence[dict[str, Any]]) -> str:
    inspected = [item for item in items if item["exemption"] == "INSPECTION_REQUIRED"]
    steps = [_NEXT_STEP[lane]] if _NEXT_STEP[lane] else []
    if inspected:
        lines = ", ".join(str(item["line"]) for item in inspected)
        ministries = ", ".join(sorted({item["ministry"] for item in inspected if item.get("ministry")}))
        steps.append(f"Chờ kết quả kiểm tra chuyên ngành ({ministries}) cho dòng hàng {lines}.")
    return " ".join(steps)
