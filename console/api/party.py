"""For a party's staff: what that party may read, and nothing else (customs/permissions.py decides).

The messages it sent (with their receipts: the feedback to senders), the gateway's
messages to it, and everything its read permissions allow about a reference. A
message of another party is "not found", the same answer as a message that does
not exist.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from console import search
from console.api.common import Paging, body_of, paging
from console.api.traffic import message_detail
from console.auth import Caller, console_of, guard
from console.roles import Permission
from customs.permissions import readable
from gateway.exceptions import ReadRefused
from gateway.parties import Party
from gateway.store.tables import messages, outbox

router = APIRouter(prefix="/party", tags=["party"])


def _party(request: Request, caller: Caller) -> Party:
    party = console_of(request).services.parties.get(caller.operator.party or "")
    if party is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this account's party is not registered")
    return party


@router.get("/messages", summary="the messages my party sent, newest first")
def my_messages(request: Request, window: Paging = paging, caller: Caller = guard(Permission.PARTY_READ)) -> dict[str, Any]:
    party = _party(request, caller)
    with console_of(request).services.engine.connect() as connection:
        return search.messages_page(connection, window.window, party=party.identity)


@router.get("/messages/{pk}", summary="one message my party sent, with its timeline")
def my_message(pk: int, request: Request, caller: Caller = guard(Permission.PARTY_READ)) -> dict[str, Any]:
    return message_detail(request, pk, party=_party(request, caller).identity)


@router.get("/messages/{pk}/receipt", summary="the signed receipt my party was given", response_class=Response)
def my_receipt(pk: int, request: Request, caller: Caller = guard(Permission.PARTY_READ)) -> Response:
    return body_of(request, messages, pk, "receipt", _party(request, caller).identity)


@router.get("/inbox", summary="the gateway's messages to my party, newest first")
def my_inbox(request: Request, window: Paging = paging, caller: Caller = guard(Permission.PARTY_READ)) -> dict[str, Any]:
    party = _party(request, caller)
    with console_of(request).services.engine.connect() as connection:
        return search.outbox_page(connection, window.window, recipient=party.identity)


@router.get("/inbox/{pk}/raw", summary="one of the gateway's signed messages to my party", response_class=Response)
def my_inbox_message(pk: int, request: Request, caller: Caller = guard(Permission.PARTY_READ)) -> Response:
    return body_of(request, outbox, pk, "body", _party(request, caller).identity, owner="recipient")


@router.get("/read/{reference}", summary="what my party may read about a declaration, order or messageId")
def read_reference(reference: str, request: Request, caller: Caller = guard(Permission.PARTY_READ)) -> dict[str, Any]:
    console = console_of(request)
    with console.services.engine.connect() as connection:
        try:
            entries = readable(connection, _party(request, caller), reference[:64], rules=console.rules.business)
        except ReadRefused:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not found") from None
    return {"items": [{key: value for key, value in entry.items() if key != "body"} for entry in entries]}
