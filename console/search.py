"""The console's queries: searches newest first, a page at a time (keyset: `before` the last id seen).

Each search is one indexed query (see the indexes in gateway/store/tables.py) whatever
the store's size; `gateway bench console` times them on a million messages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Select, Table, func, literal, or_, select, tuple_

from console.tables import alert_acknowledgements, audit_trail
from customs.state import alerts
from customs.timestamps import as_utc
from gateway.lifecycle import MessageStatus
from gateway.store.tables import messages, outbox, rejections

MAX_PAGE = 500


@dataclass(frozen=True)
class Window:
    """Which page: at most `limit` rows with an id below `before`, received in [since, until)."""

    limit: int = 50
    before: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def page(connection: Connection, query: Select[Any], table: Table, time: Column[Any], window: Window,
         by_time: bool = False) -> dict[str, Any]:
    """{"items": the rows (dicts), "next": the `before` of the next page, or None on the last one}.

    In two steps: the ids of the page first (a query the indexes answer alone), then the page's rows
    by their ids. Newest first by id, or with `by_time` (a query with no other filter than the time
    range) by (time, id): an index on both then reads a day's range in order and stops at the page's
    end, where PostgreSQL would otherwise walk the primary key backwards through the whole table.
    """
    order: tuple[ColumnElement[Any], ...] = (time, table.c.id) if by_time else (table.c.id,)
    if window.before is not None and by_time:  # below the row `before` in (time, id) order
        seen = select(time).where(table.c.id == window.before).scalar_subquery()
        query = query.where(tuple_(time, table.c.id) < tuple_(seen, literal(window.before)))
    elif window.before is not None:
        query = query.where(table.c.id < window.before)
    if window.since is not None:
        query = query.where(time >= as_utc(window.since))
    if window.until is not None:
        query = query.where(time < as_utc(window.until))
    limit = max(1, min(window.limit, MAX_PAGE))
    newest = [column.desc() for column in order]
    ids = query.with_only_columns(table.c.id).order_by(*newest).limit(limit + 1)
    rows = [
        dict(row._mapping)
        for row in connection.execute(query.where(table.c.id.in_(ids.scalar_subquery())).order_by(*newest))
    ]
    return {"items": rows[:limit], "next": rows[limit - 1]["id"] if len(rows) > limit else None}


def equal(query: Select[Any], table: Table, filters: Mapping[str, object | None]) -> Select[Any]:
    """`query` restricted to the rows whose columns equal the filters given (None: no restriction)."""
    for name, value in filters.items():
        if value is not None:
            query = query.where(table.c[name] == value)
    return query


MESSAGE_FACTS: Sequence[ColumnElement[Any]] = tuple(c for c in messages.c if c.name not in ("body", "receipt"))
OUTBOX_FACTS: Sequence[ColumnElement[Any]] = tuple(c for c in outbox.c if c.name not in ("body", "delivery_receipt"))
REJECTION_FACTS: Sequence[ColumnElement[Any]] = tuple(c for c in rejections.c if c.name not in ("body", "receipt", "errors"))


def messages_page(connection: Connection, window: Window, *, party: str | None = None, **filters: object | None) -> dict[str, Any]:
    """Inbound messages; `party` limits them to those it sent."""
    chosen = filters | {"sender": party or filters.get("sender")}
    query = equal(select(*MESSAGE_FACTS), messages, chosen)
    unfiltered = all(value is None for value in chosen.values())
    return page(connection, query, messages, messages.c.received_at, window, by_time=unfiltered)


def rejections_page(connection: Connection, window: Window, *, sender: str | None, code: str | None) -> dict[str, Any]:
    query = equal(select(*REJECTION_FACTS), rejections, {"sender": sender})
    if code is not None:
        query = query.where(or_(rejections.c.codes == code, rejections.c.codes.like(f"{_like(code)} %", escape="\\"),
                                rejections.c.codes.like(f"% {_like(code)}", escape="\\"),
                                rejections.c.codes.like(f"% {_like(code)} %", escape="\\")))
    return page(connection, query, rejections, rejections.c.received_at, window)


def outbox_page(connection: Connection, window: Window, **filters: object | None) -> dict[str, Any]:
    return page(connection, equal(select(*OUTBOX_FACTS), outbox, filters), outbox, outbox.c.created_at, window)


def dead_letters_page(connection: Connection, window: Window) -> dict[str, Any]:
    """Messages whose handlers kept failing: they are in the dead-letter queue."""
    return messages_page(connection, window, status=MessageStatus.FAILED.value)


def audit_page(connection: Connection, window: Window, **filters: object | None) -> dict[str, Any]:
    return page(connection, equal(select(audit_trail), audit_trail, filters), audit_trail, audit_trail.c.at, window)


def alerts_page(connection: Connection, window: Window, **filters: object | None) -> dict[str, Any]:
    """Alerts, with who acknowledged them and when."""
    query = select(
        *alerts.c,
        alert_acknowledgements.c.actor.label("acknowledged_by"),
        alert_acknowledgements.c.at.label("acknowledged_at"),
        alert_acknowledgements.c.note.label("acknowledgement_note"),
    ).outerjoin(alert_acknowledgements, alert_acknowledgements.c.alert == alerts.c.id)
    return page(connection, equal(query, alerts, filters), alerts, alerts.c.raised_at, window)


def one(connection: Connection, table: Table, pk: int, *columns: ColumnElement[Any]) -> dict[str, Any] | None:
    row = connection.execute(select(*(columns or (table,))).where(table.c.id == pk)).first()
    return dict(row._mapping) if row is not None else None


def count(connection: Connection, table: Table, *conditions: ColumnElement[bool]) -> int:
    return int(connection.execute(select(func.count()).select_from(table).where(*conditions)).scalar_one())


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
