"""For auditors: the audit trail (records, verification of the chain and its seals) and the signed archives."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, status

from console import archives, audit, search
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


@router.get("/archives", summary="the signed archives written by `gateway purge`, newest first, with their last verification")
def list_archives(request: Request, limit: int = Query(archives.LIMIT, ge=1, le=archives.LIMIT),
                  _: Caller = guard(Permission.AUDIT)) -> dict[str, Any]:
    with console_of(request).services.engine.connect() as connection:
        return {"items": archives.listed(connection, limit)}


@router.post("/archives/{name}/verify", summary="check an archive's file, signature, signer and digests (audited)")
def check_archive(name: str, request: Request, caller: Caller = guard(Permission.AUDIT)) -> dict[str, Any]:
    return verified(request, caller, name)


def verified(request: Request, caller: Caller, name: str) -> dict[str, Any]:
    """The outcome of one archive's verification; 404 when the table has no such archive."""
    services = console_of(request).services
    outcome = archives.verify(services.engine, caller.entry(archives.ACTION), services.settings, name[:255])
    if outcome is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    return outcome
