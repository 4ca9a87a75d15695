"""`gateway outbox list|show|resend`: what the gateway sent, to whom, and what became of it.

    list [--status S] [--recipient ID] [--limit N]   newest first
    show ID [--raw]                                  one message: attempts, last error, the proof of delivery,
                                                     its timeline
    resend ID [--reason TEXT]                        a parked message goes out again (same messageId, same bytes);
                                                     its history names the operator's login and the reason

ID is the outbox row number or the messageId. Exit 0 when done, 1 when the message
is not there or cannot be resent.
"""

from __future__ import annotations

import argparse
import datetime as dt

from rich.markup import escape
from rich.table import Table

from app.cli.operator import operator_actor
from app.cli.output import console, write_raw
from app.cli.show import print_facts, print_timeline, row_key
from app.wiring import assemble
from gateway.broker.publisher import Published
from gateway.config import load_settings
from gateway.lifecycle import OutboundStatus
from gateway.outbound.outbox import publish_outbound
from gateway.services import Services


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    outbox = commands.add_parser("outbox", help="the gateway's own messages: list, inspect, resend parked ones")
    actions = outbox.add_subparsers(title="outbox commands")
    listing = actions.add_parser("list", help="outbound messages, newest first")
    listing.add_argument("--status", choices=[s.value for s in OutboundStatus])
    listing.add_argument("--recipient", help="recipient party id")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(run=_list)
    show = actions.add_parser("show", help="one outbound message, its delivery and its timeline")
    show.add_argument("id", help="outbox row number or messageId")
    show.add_argument("--raw", action="store_true", help="print the signed envelope and the proof of delivery")
    show.set_defaults(run=_show)
    resend = actions.add_parser("resend", help="send a parked message again, with the same messageId")
    resend.add_argument("id", help="outbox row number or messageId")
    resend.add_argument("--reason", help="why it is sent again (kept in the message's history)")
    resend.set_defaults(run=_resend)


def _services(args: argparse.Namespace) -> Services:
    return assemble(load_settings(args.config)).services


def _list(args: argparse.Namespace) -> int:
    services = _services(args)
    try:
        entries = services.outbox.entries(args.limit, status=args.status, recipient=args.recipient)
    finally:
        services.close()
    table = Table("id", "created", "recipient", "message id", "type", "fn", "status", "tries", "last error",
                  title="Outbound messages (newest first)")
    for entry in entries:
        message = entry.message
        table.add_row(
            str(message.pk), _time(entry.created_at), message.recipient, message.message_id, message.document_type,
            message.function, entry.status, str(entry.attempts), (entry.last_error or "")[:60],
        )
    console.print(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    services = _services(args)
    try:
        entry = services.outbox.get(row_key(args.id))
        steps = services.outbox.timeline(entry.message.pk) if entry is not None else []
    finally:
        services.close()
    if entry is None:
        console.print(f"[red]no outbound message {escape(args.id)}[/red]")
        return 1
    message = entry.message
    facts = {
        "id": str(message.pk),
        "message id": message.message_id,
        "recipient": message.recipient,
        "document": f"{message.document_type} / {message.function}",
        "reference": entry.reference or "-",
        "answers": entry.pre_reference or "-",
        "correlation id": message.correlation_id,
        "created": _time(entry.created_at),
        "status": entry.status,
        "attempts": str(entry.attempts),
        "last error": entry.last_error or "-",
        "delivered": _time(entry.delivered_at) if entry.delivered_at else "-",
        "proof of delivery": f"{len(entry.delivery_receipt)} bytes, signed by the recipient"
        if entry.delivery_receipt else "-",
    }
    for name, value in facts.items():
        console.print(f"[bold]{name:>18}[/bold]  {escape(str(value))}")
    print_facts(console, facts)
    print_timeline(console, steps)
    if args.raw:
        write_raw(message.body)
        if entry.delivery_receipt:
            write_raw(entry.delivery_receipt)
    return 0


def _resend(args: argparse.Namespace) -> int:
    services = _services(args)
    try:
        entry = services.outbox.get(row_key(args.id))
        now = dt.datetime.now(dt.UTC)
        if entry is None or not services.outbox.unpark(entry.message.pk, now, operator_actor(), args.reason):
            state = entry.status if entry else "not there"
            console.print(f"[red]only a parked message can be resent; {args.id} is {state}[/red]")
            return 1
        published = publish_outbound(services.publisher(), services.topology, entry.message) is Published.OK
        if published:
            services.outbox.mark_published([entry.message.pk], dt.datetime.now(dt.UTC))
    finally:
        services.close()
    later = "" if published else " (the broker is away: the outbox relay will publish it)"
    console.print(f"{entry.message.message_id} to {entry.message.recipient} is pending again{later}")
    return 0


def _time(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")
