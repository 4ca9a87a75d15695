"""What the commands print, kept apart by audience.

People get rich's tables and colours (`console`, `errors`), with emoji codes and
highlighting off, so that text such as `urn:...:envelope:1` is printed as it is.
Data for programs never goes through rich: `write_raw` writes the exact bytes
received (no markup, no wrapping), `write_json` one JSON document.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console(emoji=False, highlight=False)
errors = Console(stderr=True, emoji=False, highlight=False)


def write_raw(data: bytes) -> None:
    """The bytes exactly as they are, then a newline if they lack one."""
    out = sys.stdout.buffer
    out.write(data)
    if not data.endswith(b"\n"):
        out.write(b"\n")
    out.flush()


def write_json(document: Any) -> None:
    """One JSON document on one line of stdout (dates and paths as strings)."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
