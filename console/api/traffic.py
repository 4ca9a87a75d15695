"""The inbound traffic: messages (search, detail with timeline, raw bytes, receipt), rejections, dead letters."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field

from console import actions, search
from console.api.common import Paging, body_of, found, paging, timeline
from console.auth import Caller, console_of, guard
from console.roles import Permission
from gateway.lifecycle import INBOUND
from gateway.store.tables import messages, rejections

router = APIRouter(tags=["traffic"])
XML = "application/xml"


class Redrive(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


@router.get("/messages", summary="search the inbound messages, newest first")
def list_messages(
    request: Request,
    window: Paging = paging,
    message_id: str | None = Query(None, max_length=64),
    sender: str | None = Query(None, max_length=64),
    document_type: str | None = Query(None, max_length=64),
    status_: str | None = Query(None, alias="status", max_length=16),
    reference: str | None = Query(None, max_length=64),
    _: Caller = guard(Permission.READ),
) -> dict[str, Any]:
    with console_of(request).services.engine.connect() as connection:
        return search.messages_page(
            connection, window.window, message_id=message_id, sender=sender, document_type=document_type,
            status=status_, reference=reference,
        )


@router.get("/messages/{pk}", summary="one inbound message: its header facts and its lifecycle timeline")
def get_message(pk: int, request: Request, _: Caller = guard(Permission.READ)) -> dict[str, Any]:
    return message_detail(request, pk, party=None)


@router.get("/messages/{pk}/raw", summary="the exact signed bytes received", response_class=Response)
def get_message_raw(pk: int, request: Request, _: Caller = guard(Permission.READ)) -> Response:
    return body_of(request, messages, pk, "body", None)


@router.get("/messages/{pk}/receipt", summary="the signed receipt that was returned", response_class=Response)
def get_message_receipt(pk: int, request: Request, _: Caller = guard(Permission.READ)) -> Response:
    return body_of(request, messages, pk, "receipt", None)


def message_detail(request: Request, pk: int, party: str | None) -> dict[str, Any]:
    """A message's facts and timeline; with `party`, only a message that party sent."""
    with console_of(request).services.engine.connect() as connection:
        row = found(search.one(connection, messages, pk, *search.MESSAGE_FACTS), party, "sender")
        row["timeline"] = timeline(connection, INBOUND, pk)
    return row


@router.get("/rejections", summary="search the rejected submissions, newest first")
def list_rejections(
    request: Request,
    window: Paging = paging,
    sender: str | None = Query(None, max_length=64),
    code: str | None = Query(None, pattern=r"^[A-Z0-9_]{1,64}$"),
    _: Caller = guard(Permission.READ),
) -> dict[str, Any]:
    with console_of(request).services.engine.connect() as connection:
        return search.rejections_page(connection, window.window, sender=sender, code=code)


@router.get("/rejections/{pk}", summary="one rejection with every error it listed")
def get_rejection(pk: int, request: Request, _: Caller = guard(Permission.READ)) -> dict[str, Any]:
    with console_of(request).services.engine.connect() as connection:
        row = found(search.one(connection, rejections, pk, *search.REJECTION_FACTS, rejections.c.errors), None, "sender")
    row["errors"] = json.loads(row["errors"])
    return row


@router.get("/dead-letters", summary="messages whose handlers kept failing (in the dead-letter queue)")
def list_dead_letters(request: Request, window: Paging = paging, _: Caller = guard(Permission.READ)) -> dict[str, Any]:
    with console_of(request).services.engine.connect() as connection:
        return search.dead_letters_page(connection, window.window)


@router.post("/dead-letters/{pk}/redrive", summary="give a failed message to its handlers again")
def redrive(pk: int, body: Redrive, request: Request, caller: Caller = guard(Permission.ACT)) -> dict[str, Any]:
    if not actions.redrive(console_of(request).services.engine, caller.entry("message.redrive"), pk, body.reason):
        raise HTTPException(status.HTTP_409_CONFLICT, f"message {pk} is not a failed message")
    return {"redriven": pk, "status": "accepted"}
