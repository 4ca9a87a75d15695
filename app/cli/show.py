"""What the `show` commands share: how an operator names a stored row, and how a timeline is printed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from gateway.lifecycle import Step


def row_key(text: str) -> str | int:
    """A row number, or else a messageId."""
    return int(text) if text.isdigit() else text


def moment(at: dt.datetime) -> str:
    """A stored time for people: UTC, to the millisecond (moves can follow each other closely)."""
    return utc(at).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def utc(at: dt.datetime) -> dt.datetime:
    """A stored time in UTC (SQLite gives naive ones back; everything is stored in UTC)."""
    return at.astimezone(dt.UTC) if at.tzinfo else at.replace(tzinfo=dt.UTC)


def print_facts(console: Console, facts: Mapping[str, str]) -> None:
    """One `name  value` line per fact, the names right-aligned."""
    width = max(map(len, facts), default=0)
    for name, value in facts.items():
        console.print(f"[bold]{name:>{width}}[/bold]  {escape(value)}", highlight=False)


def print_timeline(console: Console, steps: list[Step]) -> None:
    if not steps:
        console.print("no recorded moves (the message is older than its history)")
        return
    table = Table("at", "from", "to", "by", "why", title="Timeline")
    for step in steps:  # Text: what an actor or a reason says is not rich markup
        actor, reason = Text(step.actor), Text(step.reason or "")
        table.add_row(moment(step.at), step.from_status or "-", step.to_status, actor, reason)
    console.print(table)


def timeline_json(steps: list[Step]) -> list[dict[str, str | None]]:
    return [
        {
            "at": utc(step.at).isoformat(),
            "from": step.from_status,
            "to": step.to_status,
            "actor": step.actor,
            "reason": step.reason,
        }
        for step in steps
    ]
