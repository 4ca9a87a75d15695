"""`gateway messages`: what the store holds, and the life of one message.

    messages [--status S] [--type T] [--sender ID] [--count] [--limit N]   newest first, or counts
    messages show ID [--sender ID] [--json]                                 header facts and timeline

ID is the store's row number or a messageId (`--sender` picks one when several
parties used the same messageId). `show` exits 1 when no message (or more than
one) answers to ID, saying first when a purged message had that messageId and which archive holds it;
`--json` prints one JSON object for scripts.
"""

from __future__ import annotations

import argparse
import datetime as dt

from rich.markup import escape
from rich.table import Table

from app.cli.output import console, write_json
from app.cli.show import moment, print_facts, print_timeline, row_key, timeline_json, utc
from gateway.config import load_settings
from gateway.lifecycle import MessageStatus
from gateway.store.engine import make_engine
from gateway.store.messages import MessageStore


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    messages = commands.add_parser("messages", help="list or count stored messages; show one and its timeline")
    messages.add_argument("--status", choices=[s.value for s in MessageStatus])
    messages.add_argument("--type", help="document type")
    messages.add_argument("--sender", help="sender party id")
    messages.add_argument("--count", action="store_true", help="counts by status, type and sender")
    messages.add_argument("--limit", type=int, default=50)
    messages.set_defaults(run=_list)
    actions = messages.add_subparsers(title="messages commands")
    show = actions.add_parser("show", help="one stored message: its header facts and its timeline")
    show.add_argument("id", help="store row number or messageId")
    show.add_argument("--sender", help="the sender party id, when several parties used this messageId")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(run=_show)


def _store(args: argparse.Namespace) -> MessageStore:
    return MessageStore(make_engine(load_settings(args.config).db_url))


def _list(args: argparse.Namespace) -> int:
    store = _store(args)
    filters = {"status": args.status, "document_type": args.type, "sender": args.sender}
    try:
        if args.count:
            counts = store.count_by("status", "document_type", "sender", **filters)
        else:
            rows = store.list(limit=args.limit, **filters)
    finally:
        store.engine.dispose()
    if args.count:
        table = Table("status", "document type", "sender", "count", title="Stored messages")
        for status, document_type, sender, count in counts:
            table.add_row(status, document_type, sender, str(count))
        table.add_section()
        table.add_row("total", "", "", str(sum(count for *_, count in counts)))
        console.print(table)
        return 0
    table = Table(
        "id", "received", "sender", "message id", "type", "fn", "status", "route", "last error",
        title="Stored messages (newest first)",
    )
    for row in rows:
        table.add_row(
            str(row["id"]), row["received_at"].strftime("%Y-%m-%d %H:%M:%S"), row["sender"], row["message_id"],
            row["document_type"], row["function"], row["status"], row["route"], (row["last_error"] or "")[:60],
        )
    console.print(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        found = store.find(row_key(args.id), args.sender)
        steps = store.timeline(found[0]["id"]) if len(found) == 1 else []
        purged = store.tombstones(args.id, args.sender) if not found else []
    finally:
        store.engine.dispose()
    for tombstone in purged:
        console.print(
            f"messageId {escape(args.id)} from {escape(tombstone['sender'])} was received "
            f"{tombstone['received_at']:%Y-%m-%d %H:%M:%S} and purged {tombstone['purged_at']:%Y-%m-%d %H:%M:%S}; "
            f"its bytes, receipt and timeline are in archive {escape(tombstone['archive'])}",
            soft_wrap=True,
        )
    if not found:
        console.print(f"[red]no stored message {args.id}{f' from {args.sender}' if args.sender else ''}[/red]")
        return 1
    if len(found) > 1:
        senders = ", ".join(row["sender"] for row in found)
        console.print(f"[red]messageId {args.id} was sent by several parties ({senders}): name one with --sender[/red]")
        return 1
    (facts,) = found
    if args.json:
        write_json({"message": _json_facts(facts), "timeline": timeline_json(steps)})
        return 0
    shown = {
        "id": str(facts["id"]),
        "message id": facts["message_id"],
        "sender": facts["sender"],
        "recipient": facts["recipient"],
        "document": f"{facts['document_type']} / {facts['function']}",
        "reference": facts["reference"] or "-",
        "answers": facts["pre_reference"] or "-",
        "correlation id": facts["correlation_id"],
        "door": facts["door"],
        "route": facts["route"],
        "digest": facts["digest"],
        "signer revocation": f"{facts['revocation_status']} ({facts['revocation_source']})" if facts["revocation_status"] else "-",
        "received": moment(facts["received_at"]),
        "status": facts["status"],
        "attempts": str(facts["attempts"]),
        "last error": facts["last_error"] or "-",
    }
    print_facts(console, shown)
    print_timeline(console, steps)
    return 0


def _json_facts(facts: dict) -> dict:
    """The row's facts with their times in ISO 8601, UTC."""
    return {name: utc(value).isoformat() if isinstance(value, dt.datetime) else value for name, value in facts.items()}
