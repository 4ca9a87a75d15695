"""Showing bytes of any kind (hostile ones included) as text a report can hold."""

from __future__ import annotations

import re

SHOWN_BYTES = 64 * 1024
# Characters XML 1.0 cannot carry (NULs of a UTF-16 body, control characters): shown as U+FFFD.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def shown(data: bytes | None, limit: int = SHOWN_BYTES) -> str:
    """`data` decoded as UTF-8 (what is not is replaced), cut at `limit` bytes with a note of what was left out."""
    if data is None:
        return "(nothing)"
    text = data[:limit].decode("utf-8", errors="replace")
    if len(data) > limit:
        text += f"\n… ({len(data) - limit:,} more bytes not shown; {len(data):,} in all)"
    return clean(text)


def clean(text: str) -> str:
    """`text` with every character XML 1.0 cannot carry replaced by U+FFFD."""
    return _NOT_XML_CHAR.sub("\ufffd", text)
