"""The customs business as operators follow it: declarations (lane, reasons, inspections, a replay of the
recorded draws), inspection results against their deadlines, and alerts (list, acknowledge).

The pages call the same functions (`declarations_found`, `declaration_detail`, `replays`, `inspections_found`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import Connection, select

from console import actions, search
from console.api.common import Paging, paging
from console.auth import Caller, console_of, guard
from console.roles import Permission
from console.search import Window
from customs.risk import replay
from customs.state import decisions, declarations, inspections

router = APIRouter(tags=["business"])


class Acknowledgement(BaseModel):
    note: str | None = Field(None, max_length=2000)


@router.get("/declarations", summary="declarations, newest first, with their lane")
def list_declarations(
    request: Request,
    window: Paging = paging,
    status_: str | None = Query(None, alias="status", max_length=24),
    lane: str | None = Query(None, max_length=8),
    declarant: str | None = Query(None, max_length=64),
    _: Caller = guard(Permission.READ),
) -> dict[str, Any]:
    with console_of(request).services.engine.connect() as connection:
        return declarations_found(connection, window.window, {"status": status_, "lane": lane, "declarant": declarant})


@router.get("/declarations/{number}", summary="one declaration: its facts, every decision with its reasons, its inspections")
def get_declaration(number: str, request: Request, _: Caller = guard(Permission.READ)) -> dict[str, Any]:
    with console_of(request).services.engine.connect() as connection:
        return declaration_detail(connection, number)


@router.get("/declarations/{number}/replay",
            summary="recompute every decision's draws and lane from its recorded seed: what differs (nothing: identical)")
def replay_declaration(number: str, request: Request, _: Caller = guard(Permission.READ)) -> dict[str, Any]:
    with console_of(request).services.engine.connect() as connection:
        found = declaration_detail(connection, number)
    return {"declaration": number, "decisions": replays(found["decisions"])}


@router.get("/inspections", summary="inspection results against their deadline (late, on time, still awaited)")
def list_inspections(
    request: Request,
    window: Paging = paging,
    ministry: str | None = Query(None, max_length=64),
    status_: str | None = Query(None, alias="status", max_length=16),
    late: bool | None = None,
    _: Caller = guard(Permission.READ),
) -> dict[str, Any]:
    with console_of(request).services.engine.connect() as connection:
        return inspections_found(connection, window.window, {"ministry": ministry, "status": status_, "late": late})


def declarations_found(connection: Connection, window: Window, filters: dict[str, Any]) -> dict[str, Any]:
    """A page of declarations (without their facts) matching `filters` (a None value: any)."""
    columns = [column for column in declarations.c if column.name != "facts"]
    query = search.equal(select(*columns), declarations, filters)
    return search.page(connection, query, declarations, declarations.c.received_at, window)


def inspections_found(connection: Connection, window: Window, filters: dict[str, Any]) -> dict[str, Any]:
    query = search.equal(select(inspections), inspections, filters)
    return search.page(connection, query, inspections, inspections.c.received_at, window)


def declaration_detail(connection: Connection, number: str) -> dict[str, Any]:
    """The declaration with its decisions (oldest first) and inspections; 404 when there is none."""
    row = connection.execute(select(declarations).where(declarations.c.number == number)).first()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    found = dict(row._mapping)
    found["decisions"] = [
        dict(decision._mapping)
        for decision in connection.execute(
            select(decisions).where(decisions.c.declaration == number).order_by(decisions.c.id)
        )
    ]
    found["inspections"] = [
        dict(inspection._mapping)
        for inspection in connection.execute(
            select(inspections).where(inspections.c.declaration == number).order_by(inspections.c.line)
        )
    ]
    return found


def replays(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each decision's replay (customs.risk.replay): identical, or what differs; a record without draws is not replayable."""
    replayed = []
    for decision in found:
        try:
            differences: dict[str, Any] | None = replay(decision["record"])
        except (KeyError, TypeError, ValueError):  # a record without a seed or draws (hand-made, or truncated)
            differences = None
        replayed.append({"id": decision["id"], "decided_at": decision["decided_at"], "lane": decision["lane"],
                         "replayable": differences is not None, "identical": differences == {},
                         "differences": differences or {}})
    return replayed


@router.get("/alerts", summary="alerts raised, newest first, with their acknowledgement")
def list_alerts(
    request: Request,
    window: Paging = paging,
    kind: str | None = Query(None, max_length=64),
    severity: str | None = Query(None, max_length=8),
    _: Caller = guard(Permission.READ),
) -> dict[str, Any]:
    with console_of(request).services.engine.connect() as connection:
        return search.alerts_page(connection, window.window, kind=kind, severity=severity)


@router.post("/alerts/{pk}/acknowledge", summary="acknowledge an alert (once)")
def acknowledge(pk: int, body: Acknowledgement, request: Request, caller: Caller = guard(Permission.ACT)) -> dict[str, Any]:
    try:
        if not actions.acknowledge(console_of(request).services.engine, caller.entry("alert.acknowledge"), pk, body.note):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    except actions.AlreadyAcknowledged:
        raise HTTPException(status.HTTP_409_CONFLICT, f"alert {pk} is acknowledged already") from None
    return {"acknowledged": pk}
