"""`gateway bench console`: the console's search and dashboard queries on a store of a million messages.

1. Seeds an empty store (`--db-url`, default a new SQLite file under a temporary directory) with
   `--messages` inbound messages spread over `--days` days and 64 senders, plus rejections (5 %),
   outbound messages (10 %, some parked), declarations' decisions (10 %) and inspection results (2 %),
   in batches, with the tables' indexes in place; messages enter and move through the lifecycle.
2. Runs each query the console's API and pages run (console.search, console.dashboard) `--repeat`
   times with varied parameters and prints p50, p95 and the slowest, in milliseconds; the target is
   p95 under 200 ms. The queries run in this process, on the store, as the console's endpoints run them.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import tempfile
import time
import uuid
from argparse import Namespace
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.exc import DBAPIError, OperationalError

from app.wiring import STATE_TABLES  # noqa: F401  (every table joins the store's metadata before it opens)
from console import dashboard, search
from customs.state import decisions, inspections
from gateway.lifecycle import INBOUND, OUTBOUND, Lifecycle, MessageStatus, OutboundStatus, entered, transition_many
from gateway.store.engine import make_engine
from gateway.store.tables import messages, outbox, rejections

ACTOR = "bench"  # in the seeded messages' history
TARGET_MS = 200.0
BATCH = 5000
SENDERS = [f"01{n:08d}" for n in range(64)]
TYPES = ("ECOM_ORDER", "ECOM_DECLARATION", "INSPECTION_RESULT", "PLATFORM_REGISTRATION", "ATIGA_FORM_D")
DOORS = ("http", "soap", "amqp")
BODY = b"<Envelope>" + b"x" * 400 + b"</Envelope>"  # stands in for the signed bytes: the queries never read them
Query = Callable[[Connection, random.Random], object]


def run_console_bench(args: Namespace) -> int:
    out = Console()
    url = args.db_url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='gateway-bench-console-')) / 'gateway.db'}"
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if connection.execute(select(func.count()).select_from(messages)).scalar_one():
                out.print("[red]the store is not empty: give --db-url an empty one[/red]")
                return 2
        now = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        seeded = seed(engine, args.messages, args.days, now)
        seed_s = time.perf_counter() - started
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")  # the planner's statistics, as a store in service has them
        figures = measure(engine, queries(now, seeded), args.repeat)
    finally:
        engine.dispose()
    document = {"store": engine.dialect.name, "messages": args.messages, "seed_s": round(seed_s, 1),
                "target_p95_ms": TARGET_MS, "queries": figures}
    if args.json:
        out.print_json(json.dumps(document))
    else:
        table = Table(title=f"Console queries on {args.messages:,} messages ({engine.dialect.name}; seeded in {seed_s:.0f} s)")
        for column in ("query", "p50 ms", "p95 ms", "max ms", f"p95 < {TARGET_MS:.0f} ms"):
            table.add_column(column)
        for name, figure in figures.items():
            ok = figure["p95_ms"] < TARGET_MS
            table.add_row(name, f"{figure['p50_ms']:.1f}", f"{figure['p95_ms']:.1f}", f"{figure['max_ms']:.1f}",
                          "[green]yes[/green]" if ok else "[red]no[/red]")
        out.print(table)
    return 0 if all(figure["p95_ms"] < TARGET_MS for figure in figures.values()) else 1


def seed(engine: Engine, count: int, days: int, now: dt.datetime) -> dict[str, list[Any]]:
    """Rows of every table the console queries; returns samples of the keys to search for.

    Messages enter and move through gateway/lifecycle.py as in service (one in a thousand fails, the others
    are processed; one outbound message in fifty is parked, the others delivered), so their history is there too.
    """
    rng = random.Random(431)
    span_s = days * 86400
    samples: dict[str, list[Any]] = {"message_id": [], "reference": []}
    for start in range(0, count, BATCH):
        rows, rejected, sent, decided, inspected = [], [], [], [], []
        for n in range(start, min(start + BATCH, count)):
            at = now - dt.timedelta(seconds=span_s * (count - n) / count)  # oldest first, as they would arrive
            sender, message_id, reference = rng.choice(SENDERS), str(uuid.UUID(int=rng.getrandbits(128))), f"1070{n:08d}"
            rows.append({
                "id": n + 1, "sender": sender, "message_id": message_id, "recipient": "VNECOMGW",
                "document_type": rng.choice(TYPES), "function": "01", "reference": reference, "pre_reference": None,
                "correlation_id": message_id, "door": rng.choice(DOORS), "digest": "0" * 64, "body": BODY,
                "receipt": BODY, "route": "orders", "attempts": 0, "last_error": None, "received_at": at,
            })
            if n % 20 == 0:
                rejected.append({"received_at": at, "door": "http", "sender": sender, "message_id": message_id,
                                 "document_type": "ECOM_ORDER", "correlation_id": None, "digest": "0" * 64,
                                 "codes": "PAYLOAD_SCHEMA_INVALID", "errors": "[]", "body": BODY, "receipt": BODY})
            if n % 10 == 0:
                sent.append({"id": n // 10 + 1, "message_id": str(uuid.UUID(int=rng.getrandbits(128))), "recipient": sender,
                             "document_type": "LANE_NOTICE", "function": "26", "reference": reference,
                             "pre_reference": message_id, "correlation_id": message_id, "source": n + 1, "body": BODY,
                             "created_at": at, "published_at": at, "attempts": 1})
                decided.append({"declaration": reference, "decided_at": at, "lane": rng.choice(("GREEN", "YELLOW", "RED")),
                                "record": {"reasons": []}, "notice": None})
            if n % 50 == 0:
                inspected.append({"declaration": reference, "line": 1, "hs_code": "85171200", "ministry": "BTTTT",
                                  "status": "pass", "issued_at": at, "received_at": at, "working_hours": 1.0,
                                  "late": n % 200 == 0, "message": n + 1})
            if n % 997 == 0:
                samples["message_id"].append(message_id)
                samples["reference"].append(reference)

        def write(rows: list[dict[str, Any]] = rows, sent: list[dict[str, Any]] = sent,
                  others: tuple[tuple[Any, list[dict[str, Any]]], ...] = ((rejections, rejected), (decisions, decided),
                                                                           (inspections, inspected))) -> None:
            with engine.begin() as connection:
                _enter(connection, INBOUND, rows, {MessageStatus.FAILED: lambda pk: pk % 1000 == 1}, MessageStatus.PROCESSED)
                _enter(connection, OUTBOUND, sent, {OutboundStatus.PARKED: lambda pk: pk % 50 == 1}, OutboundStatus.DELIVERED)
                for table, batch in others:
                    if batch:
                        connection.execute(insert(table), batch)

        _surviving_restarts(write)
    return samples


def _surviving_restarts(batch: Callable[[], None], attempts: int = 60) -> None:
    """Write one batch (one transaction); if the database restarts under it (a shared server), wait and write it
    again: the interrupted transaction left nothing behind."""
    for attempt in range(attempts):
        try:
            batch()
            return
        except (OperationalError, DBAPIError) as exc:
            if attempt == attempts - 1 or not (isinstance(exc, OperationalError) or exc.connection_invalidated):
                raise
            time.sleep(2)


def _enter(connection: Connection, lifecycle: Lifecycle, rows: list[dict[str, Any]],
           exceptions: dict[str, Callable[[int], bool]], usual: str) -> None:
    """Insert the rows in their lifecycle's first state, then move each to its final one (with its history)."""
    if not rows:
        return
    at = rows[-1].get("received_at") or rows[-1]["created_at"]
    connection.execute(lifecycle.with_initial_status(insert(lifecycle.table)), rows)
    pks = [row["id"] for row in rows]
    entered(connection, lifecycle, pks, actor=ACTOR, at=at)
    for target, chosen in exceptions.items():
        transition_many(connection, lifecycle, [pk for pk in pks if chosen(pk)], target, actor=ACTOR, at=at)
    others = [pk for pk in pks if not any(chosen(pk) for chosen in exceptions.values())]
    transition_many(connection, lifecycle, others, usual, actor=ACTOR, at=at)


def queries(now: dt.datetime, seeded: dict[str, list[Any]]) -> dict[str, Query]:
    """The console's queries, each with parameters drawn at random from what was seeded."""
    day = dt.timedelta(days=1)

    def window(rng: random.Random, **kwargs: Any) -> search.Window:
        return search.Window(limit=50, **kwargs)

    def second_page(connection: Connection, rng: random.Random) -> object:
        first = search.messages_page(connection, window(rng), sender=rng.choice(SENDERS))
        return search.messages_page(connection, window(rng, before=first["next"]), sender=first["items"][0]["sender"])

    def one_day(connection: Connection, rng: random.Random) -> object:
        since = now - rng.randint(1, 25) * day
        return search.messages_page(connection, window(rng, since=since, until=since + day))

    return {
        "messages: by messageId": lambda c, r: search.messages_page(c, window(r), message_id=r.choice(seeded["message_id"])),
        "messages: by sender": lambda c, r: search.messages_page(c, window(r), sender=r.choice(SENDERS)),
        "messages: by sender, 2nd page": second_page,
        "messages: by reference": lambda c, r: search.messages_page(c, window(r), reference=r.choice(seeded["reference"])),
        "messages: by type and status": lambda c, r: search.messages_page(c, window(r), document_type=r.choice(TYPES),
                                                                         status="processed"),
        "messages: one day": one_day,
        "messages: sender, one day": lambda c, r: search.messages_page(
            c, window(r, since=now - 2 * day, until=now - day), sender=r.choice(SENDERS)),
        "dead letters": lambda c, r: search.dead_letters_page(c, window(r)),
        "rejections: by sender": lambda c, r: search.rejections_page(c, window(r), sender=r.choice(SENDERS), code=None),
        "outbox: parked": lambda c, r: search.outbox_page(c, window(r), status="parked"),
        "outbox: by reference": lambda c, r: search.outbox_page(c, window(r), reference=r.choice(seeded["reference"])),
        "dashboard: per hour by door": lambda c, r: dashboard.messages_per_hour(c, "door", now),
        "dashboard: per hour by type": lambda c, r: dashboard.messages_per_hour(c, "document_type", now),
        "dashboard: accepted/rejected": lambda c, r: dashboard.messages_per_hour(c, "outcome", now),
        "dashboard: lanes per day": lambda c, r: dashboard.lanes_per_day(c, now),
        "dashboard: inspections": lambda c, r: dashboard.inspection_timeliness(c),
        "dashboard: outbox waiting": lambda c, r: dashboard.outbox_waiting(c),
    }


def measure(engine: Engine, named: dict[str, Query], repeat: int) -> dict[str, dict[str, float]]:
    rng = random.Random(13)
    figures = {}
    with engine.connect() as connection:
        for name, query in named.items():
            query(connection, rng)  # warm the caches once
            times = list(_timed(lambda: query(connection, rng), repeat))
            figures[name] = {
                "p50_ms": statistics.median(times),
                "p95_ms": statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0],
                "max_ms": max(times),
            }
    return figures


def _timed(call: Callable[[], object], repeat: int) -> Iterator[float]:
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        yield (time.perf_counter() - started) * 1000
