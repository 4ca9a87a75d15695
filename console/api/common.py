"""What the API's routers share: paging parameters, a row or 404, a stored body as a download, a timeline, a reason."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from fastapi import Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Table, select

from console.auth import console_of
from console.search import MAX_PAGE, Window
from gateway.lifecycle import Lifecycle, history


class Paging:
    """?limit=&before=&since=&until=: a page of at most `limit` rows with ids below `before`, in [since, until)."""

    def __init__(
        self,
        limit: int = Query(50, ge=1, le=MAX_PAGE),
        before: int | None = Query(None, ge=1, description="the `next` of the previous page"),
        since: dt.datetime | None = Query(None, description="ISO 8601; without a zone, UTC"),
        until: dt.datetime | None = Query(None, description="ISO 8601, exclusive; without a zone, UTC"),
    ) -> None:
        self.window = Window(limit, before, since, until)


paging = Depends(Paging)


def found(row: dict[str, Any] | None, party: str | None, owner: str) -> dict[str, Any]:
    """The row, unless it is missing or (for a party user) not the party's: then 404, the same either way."""
    if row is None or (party is not None and row[owner] != party):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    return row


def body_of(request: Request, table: Table, pk: int, column: str, party: str | None, owner: str = "sender") -> Response:
    """A stored signed document, byte for byte, as an XML download."""
    with console_of(request).services.engine.connect() as connection:
        row = connection.execute(select(table.c[column], table.c[owner]).where(table.c.id == pk)).first()
    if row is None or row[0] is None or (party is not None and row[1] != party):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    return Response(
        bytes(row[0]), media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{table.name}-{pk}-{column}.xml"'},
    )


def timeline(connection: Connection, lifecycle: Lifecycle, pk: int) -> list[dict[str, Any]]:
    return [dataclasses.asdict(step) for step in history(connection, lifecycle, pk)]


class Why(BaseModel):
    """The reason an operator gives for an action: it goes into the audit record."""

    reason: str = Field(min_length=1, max_length=2000)
