"""Statistics over a period [start, end): what came in, what was decided, what was raised.

Each table has key columns (one or two) and measure columns (numbers), so the
same tables render on a terminal, as CSV or as JSON. Every figure counts rows
whose own time falls in the period: messages and rejections by reception,
outbound messages by creation, declarations by reception, decisions by decision
time (the latest decision of each declaration), inspection results by arrival,
alerts when raised, orders by first reception.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from customs.state import InspectionStatus, alerts, decisions, declarations, inspections, orders, platforms
from customs.timestamps import as_utc
from gateway.store.tables import messages, outbox, rejections

CSV_COLUMNS = ("period_from", "period_to", "section", "dimension", "key", "subkey", "measure", "value")
GRANTED = "EXEMPT"
UNDECIDED = "UNDECIDED"
UNREGISTERED = "UNREGISTERED"


@dataclass(frozen=True)
class Period:
    start: dt.datetime  # aware, inclusive
    end: dt.datetime  # aware, exclusive

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period's bounds need a time zone")
        if self.end <= self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    def covers(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        """The SQL condition "column is in the period" (in UTC: SQLite keeps times without their zone)."""
        return (column >= as_utc(self.start)) & (column < as_utc(self.end))


@dataclass(frozen=True)
class StatTable:
    name: str
    title: str
    keys: tuple[str, ...]
    measures: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]  # the keys' values, then the measures'

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.keys + self.measures, row, strict=True)) for row in self.rows]

    def total(self, measure: str) -> int:
        index = len(self.keys) + self.measures.index(measure)
        return sum(row[index] for row in self.rows)


@dataclass(frozen=True)
class Report:
    period: Period
    summary: dict[str, int]
    tables: tuple[StatTable, ...]

    def table(self, name: str) -> StatTable:
        return next(table for table in self.tables if table.name == name)

    def document(self) -> dict[str, Any]:
        """The report as one JSON document (`gateway report --format json`, the console's statistics)."""
        return {
            "period": {"from": self.period.start.isoformat(), "to": self.period.end.isoformat()},
            "summary": self.summary,
            "tables": {stat.name: stat.records() for stat in self.tables},
        }

    def csv(self) -> str:
        """The report in long format, one figure per row (CSV_COLUMNS; `gateway report --format csv`, the console)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        bounds = (self.period.start.isoformat(), self.period.end.isoformat())
        for name, value in self.summary.items():
            writer.writerow((*bounds, "summary", "", "", "", name, value))
        for stat in self.tables:
            dimension = "/".join(stat.keys)
            for row in stat.rows:
                keys = (*row[: len(stat.keys)], "")[:2]
                for measure, value in zip(stat.measures, row[len(stat.keys) :], strict=True):
                    writer.writerow((*bounds, stat.name, dimension, *keys, measure, value))
        return buffer.getvalue()


def report(connection: Connection, period: Period, *, top: int = 10) -> Report:
    """Every table of the period, and a summary of their totals."""
    tables = (
        messages_by_type(connection, period),
        messages_by_sender(connection, period),
        messages_by_status(connection, period),
        rejections_by_code(connection, period),
        outbound_by_type(connection, period),
        declarations_by_lane(connection, period),
        exemptions(connection, period),
        inspection_results(connection, period),
        alerts_by_kind(connection, period),
        top_platforms(connection, period, top),
    )
    by_name = {table.name: table for table in tables}
    exempted = by_name["exemptions"]
    summary = {
        "messages_accepted": by_name["messages_by_type"].total("accepted"),
        "messages_rejected": by_name["messages_by_type"].total("rejected"),
        "outbound_messages": by_name["outbound_by_type"].total("messages"),
        "declarations": by_name["declarations_by_lane"].total("declarations"),
        "declared_value_vnd": by_name["declarations_by_lane"].total("declared_value_vnd"),
        "exemptions_granted": sum(r["items"] for r in exempted.records() if r["exemption"] == GRANTED),
        "exemptions_refused": sum(r["items"] for r in exempted.records() if r["exemption"] != GRANTED),
        "inspection_results_on_time": by_name["inspection_results"].total("on_time"),
        "inspection_results_late": by_name["inspection_results"].total("late"),
        "alerts": by_name["alerts_by_kind"].total("alerts"),
    }
    return Report(period, summary, tables)


# --- messages -----------------------------------------------------------------------


def _accepted_and_rejected(connection: Connection, period: Period, column: str) -> list[tuple[Any, ...]]:
    accepted = _counts(connection, messages.c[column], period.covers(messages.c.received_at))
    rejected = _counts(connection, rejections.c[column], period.covers(rejections.c.received_at))
    keys = sorted(set(accepted) | set(rejected), key=lambda key: (-(accepted[key] + rejected[key]), key))
    return [(key, accepted[key], rejected[key]) for key in keys]


def messages_by_type(connection: Connection, period: Period) -> StatTable:
    rows = _accepted_and_rejected(connection, period, "document_type")
    return StatTable(
        "messages_by_type",
        "Inbound messages by document type",
        ("document_type",),
        ("accepted", "rejected"),
        _rows(rows),
    )


def messages_by_sender(connection: Connection, period: Period) -> StatTable:
    """Rejections count under the sender the envelope claimed (unverified when its signature failed)."""
    rows = _accepted_and_rejected(connection, period, "sender")
    return StatTable(
        "messages_by_sender", "Inbound messages by sender", ("sender",), ("accepted", "rejected"), _rows(rows)
    )


def messages_by_status(connection: Connection, period: Period) -> StatTable:
    counts = _counts(connection, messages.c.status, period.covers(messages.c.received_at))
    rejected = connection.execute(
        select(func.count()).select_from(rejections).where(period.covers(rejections.c.received_at))
    ).scalar_one()
    if rejected:
        counts["rejected"] = rejected
    return StatTable("messages_by_status", "Inbound messages by status", ("status",), ("messages",), _ranked(counts))


def rejections_by_code(connection: Connection, period: Period) -> StatTable:
    """A rejection with several errors counts once under each of its codes."""
    codes: Counter[str] = Counter()
    for joined in connection.execute(
        select(rejections.c.codes).where(period.covers(rejections.c.received_at))
    ).scalars():
        codes.update(joined.split())
    return StatTable(
        "rejections_by_code", "Rejections at intake by error code", ("code",), ("rejections",), _ranked(codes)
    )


def outbound_by_type(connection: Connection, period: Period) -> StatTable:
    query = (
        select(outbox.c.document_type, outbox.c.status, func.count())
        .where(period.covers(outbox.c.created_at))
        .group_by(outbox.c.document_type, outbox.c.status)
        .order_by(outbox.c.document_type, outbox.c.status)
    )
    rows = [tuple(row) for row in connection.execute(query)]
    return StatTable(
        "outbound_by_type", "Messages sent by the gateway", ("document_type", "status"), ("messages",), _rows(rows)
    )


# --- declarations and decisions -------------------------------------------------------


def declarations_by_lane(connection: Connection, period: Period) -> StatTable:
    query = (
        select(declarations.c.lane, declarations.c.direction, func.count(), func.sum(declarations.c.total_value_vnd))
        .where(period.covers(declarations.c.received_at))
        .group_by(declarations.c.lane, declarations.c.direction)
    )
    rows = sorted(
        (
            (lane or UNDECIDED, direction, count, int(value or 0))
            for lane, direction, count, value in connection.execute(query)
        )
    )
    return StatTable(
        "declarations_by_lane",
        "Declarations by lane and direction",
        ("lane", "direction"),
        ("declarations", "declared_value_vnd"),
        _rows(rows),
    )


def exemptions(connection: Connection, period: Period) -> StatTable:
    """Items of the latest decision on each declaration decided in the period, by exemption and rule."""
    query = (
        select(decisions.c.declaration, decisions.c.record)
        .where(period.covers(decisions.c.decided_at))
        .order_by(decisions.c.id)
    )
    latest = {declaration: record for declaration, record in connection.execute(query)}
    items: Counter[tuple[str, str]] = Counter()
    values: Counter[tuple[str, str]] = Counter()
    for record in latest.values():
        for item in record.get("items", ()):
            key = (item["exemption"], item["rule"])
            items[key] += 1
            values[key] += int(item.get("value_vnd") or 0)
    rows = [(exemption, rule, items[(exemption, rule)], values[(exemption, rule)]) for exemption, rule in sorted(items)]
    return StatTable(
        "exemptions",
        "Item exemptions (EXEMPT: granted; others: refused)",
        ("exemption", "rule"),
        ("items", "value_vnd"),
        _rows(rows),
    )


def inspection_results(connection: Connection, period: Period) -> StatTable:
    query = select(inspections.c.ministry, inspections.c.status, inspections.c.late).where(
        period.covers(inspections.c.received_at), inspections.c.status != InspectionStatus.REQUIRED.value
    )
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for ministry, status, late in connection.execute(query):
        counts[ministry]["late" if late else "on_time"] += 1
        counts[ministry][status] += 1
    measures = ("on_time", "late", InspectionStatus.PASS.value, InspectionStatus.FAIL.value)
    rows = [(ministry, *(counts[ministry][m] for m in measures)) for ministry in sorted(counts)]
    return StatTable(
        "inspection_results", "Specialised inspection results received", ("ministry",), measures, _rows(rows)
    )


def alerts_by_kind(connection: Connection, period: Period) -> StatTable:
    query = (
        select(alerts.c.kind, alerts.c.severity, func.count())
        .where(period.covers(alerts.c.raised_at))
        .group_by(alerts.c.kind, alerts.c.severity)
        .order_by(alerts.c.kind, alerts.c.severity)
    )
    rows = [tuple(row) for row in connection.execute(query)]
    return StatTable("alerts_by_kind", "Risk alerts raised", ("kind", "severity"), ("alerts",), _rows(rows))


def top_platforms(connection: Connection, period: Period, top: int) -> StatTable:
    """Platforms by orders received (each order once, whoever sent it) and by the customs value declared for them."""
    first_seen = (
        select(orders.c.platform_id, orders.c.order_id)
        .group_by(orders.c.platform_id, orders.c.order_id)
        .having(period.covers(func.min(orders.c.received_at)))
        .subquery()
    )
    order_counts = Counter(
        dict(
            connection.execute(select(first_seen.c.platform_id, func.count()).group_by(first_seen.c.platform_id)).all()
        )
    )
    values: Counter[str] = Counter()
    for facts in connection.execute(
        select(declarations.c.facts).where(period.covers(declarations.c.received_at))
    ).scalars():
        platform_of = {ref["order_id"]: ref["platform_id"] for ref in facts.get("orders", ())}
        for item in facts.get("items", ()):
            if item.get("order_id") in platform_of:
                values[platform_of[item["order_id"]]] += int(item.get("value_vnd") or 0)
    ranked = sorted(set(order_counts) | set(values), key=lambda p: (-order_counts[p], -values[p], p))[:top]
    status = dict(
        connection.execute(
            select(platforms.c.platform_id, platforms.c.status).where(platforms.c.platform_id.in_(ranked))
        ).all()
    )
    rows = [(p, status.get(p, UNREGISTERED), order_counts[p], values[p]) for p in ranked]
    return StatTable(
        "top_platforms",
        f"Top {top} platforms",
        ("platform_id", "registration"),
        ("orders", "declared_value_vnd"),
        _rows(rows),
    )


# --- helpers ------------------------------------------------------------------------


def _counts(connection: Connection, column: ColumnElement[Any], condition: ColumnElement[bool]) -> Counter[str]:
    query = select(column, func.count()).where(condition).group_by(column)
    return Counter({(key if key is not None else "-"): count for key, count in connection.execute(query)})


def _ranked(counts: Counter[str]) -> tuple[tuple[Any, ...], ...]:
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _rows(rows: Iterable[tuple[Any, ...]]) -> tuple[tuple[Any, ...], ...]:
    return tuple(tuple(row) for row in rows)
