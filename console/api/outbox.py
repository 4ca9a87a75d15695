"""The gateway's own messages: list, detail with attempts, proof and timeline, resend one, resend in bulk.

A resend moves parked messages back to pending through the lifecycle (their history names
the operator and the reason) and clears their publication: the outbox relay publishes
them again, with the same messageId and the same signed bytes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from console import actions, search
from console.api.common import Paging, body_of, found, paging, timeline
from console.auth import Caller, console_of, guard
from console.roles import Permission
from customs.timestamps import as_utc
from gateway.lifecycle import OUTBOUND, OutboundStatus
from gateway.store.tables import outbox

router = APIRouter(tags=["outbox"])
BULK_LIMIT = 10_000


class Resend(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class BulkResend(Resend):
    recipient: str = Field(min_length=1, max_length=64)
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@router.get("/outbox", summary="outbound messages, newest first")
def list_outbox(
    request: Request,
    window: Paging = paging,
    status_: OutboundStatus | None = Query(None, alias="status"),
    recipient: str | None = Query(None, max_length=64),
    reference: str | None = Query(None, max_length=64),
    _: Caller = guard(Permission.READ),
) -> dict[str, Any]:
    with console_of(request).services.engine.connect() as connection:
        return search.outbox_page(
            connection, window.window, status=status_.value if status_ else None, recipient=recipient, reference=reference
        )


@router.get("/outbox/{pk}", summary="one outbound message: attempts, last error, proof of delivery, timeline")
def get_outbox(pk: int, request: Request, _: Caller = guard(Permission.READ)) -> dict[str, Any]:
    with console_of(request).services.engine.connect() as connection:
        row = found(search.one(connection, outbox, pk, *search.OUTBOX_FACTS), None, "recipient")
        row["delivery_receipt"] = connection.execute(
            select(outbox.c.delivery_receipt.is_not(None)).where(outbox.c.id == pk)
        ).scalar_one()
        row["timeline"] = timeline(connection, OUTBOUND, pk)
    return row


@router.get("/outbox/{pk}/raw", summary="the signed bytes sent", response_class=Response)
def get_outbox_raw(pk: int, request: Request, _: Caller = guard(Permission.READ)) -> Response:
    return body_of(request, outbox, pk, "body", None, owner="recipient")


@router.post("/outbox/{pk}/resend", summary="send a parked message again (same messageId, same bytes)")
def resend(pk: int, body: Resend, request: Request, caller: Caller = guard(Permission.ACT)) -> dict[str, Any]:
    if not actions.resend(console_of(request).services.engine, caller.entry("outbox.resend"), [pk], body.reason):
        raise HTTPException(status.HTTP_409_CONFLICT, f"outbound message {pk} is not parked")
    return {"resent": [pk]}


@router.post("/outbox/resend", summary="send again every parked message to a recipient, created in [since, until)")
def resend_bulk(body: BulkResend, request: Request, caller: Caller = guard(Permission.ACT)) -> dict[str, Any]:
    query = select(outbox.c.id).where(
        outbox.c.recipient == body.recipient, outbox.c.status == OutboundStatus.PARKED.value
    ).order_by(outbox.c.id).limit(BULK_LIMIT)
    if body.since is not None:
        query = query.where(outbox.c.created_at >= as_utc(body.since))
    if body.until is not None:
        query = query.where(outbox.c.created_at < as_utc(body.until))
    engine = console_of(request).services.engine
    with engine.connect() as connection:
        pks = list(connection.execute(query).scalars())
    selection = {"recipient": body.recipient, "since": body.since, "until": body.until}
    moved = actions.resend(engine, caller.entry("outbox.resend"), pks, body.reason, f"recipient:{body.recipient}", selection)
    return {"resent": moved}
