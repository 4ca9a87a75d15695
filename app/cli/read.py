"""`gateway read REFERENCE --as PARTY`: what a party may read about a reference (customs.permissions).

For operators and officers checking a party's view, the same one a party gets
through a signed query. Exit 0 with the entries, 1 when refused (a party without
rights and a reference that does not exist get the same refusal), 2 on errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from rich.markup import escape
from rich.table import Table

from app.cli.output import console, errors
from gateway.config import load_settings


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    read = commands.add_parser("read", help="what a party may read about a declaration, order id or messageId")
    read.add_argument("reference", help="a declaration number, order id, messageId or other Subject/reference")
    read.add_argument("--as", dest="party", required=True, help="the reading party's id")
    read.add_argument("--json", action="store_true", help="print the entries, with their signed bodies, as JSON")
    read.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from customs.permissions import readable
    from customs.rules import business_rules
    from gateway.exceptions import ReadRefused
    from gateway.parties import load_registry
    from gateway.store.engine import make_engine

    settings = load_settings(args.config)
    engine = make_engine(settings.db_url)
    try:
        reader = load_registry(engine).get(args.party)
        if reader is None:
            errors.print(f"[red]unknown party:[/red] {args.party}")
            return 2
        try:
            with engine.connect() as connection:
                entries = readable(connection, reader, args.reference, rules=business_rules(settings.business_file))
        except ReadRefused as exc:
            if args.json:
                print(
                    json.dumps(
                        {"reference": args.reference, "reader": reader.identity, "refused": exc.reason},
                        ensure_ascii=False,
                    )
                )
            else:
                console.print(f"[red]refused:[/red] {escape(exc.reason)}")
            return 1
    finally:
        engine.dispose()
    if args.json:
        document = {"reference": args.reference, "reader": reader.identity, "entries": [_jsonable(e) for e in entries]}
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        console.print(_table(args.reference, reader.identity, entries))
    return 0


def _table(reference: str, reader: str, entries: list[dict[str, Any]]) -> Table:
    table = Table(
        "at (UTC)",
        "source",
        "from",
        "to",
        "type",
        "fn",
        "status / lane",
        "message id",
        title=f"{reference} as read by {reader}",
    )
    for e in entries:
        table.add_row(
            e["at"].astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            e["source"],
            e["sender"] or "",
            e["recipient"] or "",
            e["document_type"],
            e["function"] or "",
            e["status"],
            e["message_id"] or "",
        )
    return table


def _jsonable(entry: dict[str, Any]) -> dict[str, Any]:
    body = entry["body"]
    return {**entry, "at": entry["at"].isoformat(), "body": body.decode("utf-8") if body is not None else None}
