"""The dashboard's figures: each one grouped query over an indexed time range (`gateway bench console` times them).

Hours and days are UTC, bucketed by the database itself (strftime on SQLite, to_char on
PostgreSQL), so a million rows are never read into Python.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, literal, select, union_all

from customs.state import decisions, inspections
from customs.timestamps import as_utc
from gateway.lifecycle import OutboundStatus
from gateway.store.tables import messages, outbox, party_certificates, rejections

HOUR, DAY = "%Y-%m-%d %H", "%Y-%m-%d"
EXPIRY_BUCKETS = ((0, "expired"), (30, "< 30 d"), (90, "< 90 d"), (365, "< 365 d"))


@dataclass(frozen=True)
class Series:
    """Values by column (an hour, a day) and by series (a door, a lane...)."""

    columns: list[str]
    series: dict[str, list[int]]


def bucket(connection: Connection, column: ColumnElement[Any], unit: str) -> ColumnElement[str]:
    """The hour or day of a timestamp column, as text, in UTC."""
    if connection.dialect.name == "postgresql":
        pattern = "YYYY-MM-DD HH24" if unit == HOUR else "YYYY-MM-DD"
        return func.to_char(func.timezone("UTC", column), pattern)
    return func.strftime(unit, column)


def _spread(rows: Sequence[tuple[str, str, int]], columns: list[str]) -> Series:
    series: dict[str, list[int]] = defaultdict(lambda: [0] * len(columns))
    index = {column: i for i, column in enumerate(columns)}
    for column, name, count in rows:
        if column in index:
            series[str(name)][index[column]] += int(count)
    return Series(columns, dict(sorted(series.items())))


def hours(until: dt.datetime, count: int) -> list[str]:
    last = as_utc(until).replace(minute=0, second=0, microsecond=0)
    return [(last - dt.timedelta(hours=n)).strftime(HOUR) for n in reversed(range(count))]


def days(until: dt.datetime, count: int) -> list[str]:
    return [(as_utc(until) - dt.timedelta(days=n)).strftime(DAY) for n in reversed(range(count))]


def messages_per_hour(connection: Connection, by: str, until: dt.datetime, count: int = 24) -> Series:
    """Inbound messages per hour of the last `count` hours, by door, document type, or outcome (accepted/rejected)."""
    columns = hours(until, count)
    since = as_utc(until).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=count - 1)
    if by == "outcome":
        accepted = select(bucket(connection, messages.c.received_at, HOUR).label("h"), literal("accepted").label("k")).where(
            messages.c.received_at >= since)
        rejected = select(bucket(connection, rejections.c.received_at, HOUR).label("h"), literal("rejected").label("k")).where(
            rejections.c.received_at >= since)
        both = union_all(accepted, rejected).subquery()
        query = select(both.c.h, both.c.k, func.count()).group_by(both.c.h, both.c.k)
    else:
        hour = bucket(connection, messages.c.received_at, HOUR)
        key = messages.c[by]
        query = select(hour, key, func.count()).where(messages.c.received_at >= since).group_by(hour, key)
    return _spread([tuple(row) for row in connection.execute(query)], columns)  # type: ignore[misc]


def lanes_per_day(connection: Connection, until: dt.datetime, count: int = 14) -> Series:
    columns = days(until, count)
    since = as_utc(until).replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=count - 1)
    day = bucket(connection, decisions.c.decided_at, DAY)
    query = select(day, decisions.c.lane, func.count()).where(decisions.c.decided_at >= since).group_by(day, decisions.c.lane)
    return _spread([tuple(row) for row in connection.execute(query)], columns)  # type: ignore[misc]


def inspection_timeliness(connection: Connection) -> dict[str, int]:
    """Inspection results: on time, late, and still awaited."""
    outcome = case((inspections.c.received_at.is_(None), "awaited"), (inspections.c.late, "late"), else_="on time")
    counts = dict(connection.execute(select(outcome, func.count()).group_by(outcome)).all())
    return {name: int(counts.get(name, 0)) for name in ("on time", "late", "awaited")}


def outbox_waiting(connection: Connection) -> dict[str, int]:
    """Outbound messages waiting: pending and parked."""
    waiting = (OutboundStatus.PENDING.value, OutboundStatus.PARKED.value)
    query = select(outbox.c.status, func.count()).where(outbox.c.status.in_(waiting)).group_by(outbox.c.status)
    counts = dict(connection.execute(query).all())
    return {status: int(counts.get(status, 0)) for status in waiting}


def certificates_by_expiry(connection: Connection, now: dt.datetime) -> dict[str, int]:
    """The registered party certificates by days to expiry."""
    counts = {label: 0 for _, label in EXPIRY_BUCKETS} | {">= 365 d": 0}
    for (not_after,) in connection.execute(select(party_certificates.c.not_after)):
        days_left = (as_utc(not_after) - as_utc(now)).days
        label = next((label for limit, label in EXPIRY_BUCKETS if days_left < limit), ">= 365 d")
        counts[label] += 1
    return counts
