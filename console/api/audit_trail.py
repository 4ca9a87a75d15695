"""The audit trail, for auditors: the records, and a verification of the chain and its seals."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Query, Request

from console import audit, search
from console.api.common import Paging, paging
from console.auth import Caller, console_of, guard
from console.roles import Permission

router = APIRouter(tags=["audit"])


@router.get("/audit", summary="the audit trail, newest first")
def list_audit(
    request: Request,
    window: Paging = paging,
    actor: str | None = Query(None, max_length=128),
    action: str | None = Query(None, max_length=64),
    _: Caller = guard(Permission.AUDIT),
) -> dict[str, Any]:
    with console_of(request).services.engine.connect() as connection:
        return search.audit_page(connection, window.window, actor=actor, action=action)


@router.get("/audit/verify", summary="walk the chain and check its signed seals")
def verify_audit(request: Request, _: Caller = guard(Permission.AUDIT)) -> dict[str, Any]:
    services = console_of(request).services
    with services.engine.connect() as connection:
        result = audit.verify(connection, services.keys.current.certificate)
    return dataclasses.asdict(result) | {"ok": result.ok}
