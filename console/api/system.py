"""The gateway as a whole: statistics (the figures of `gateway report`), health, queue depths and relay lag, parties."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from sqlalchemy import select

from console import actions, probes
from console.api.common import Why
from console.auth import Caller, console_of, guard
from console.roles import Permission
from customs.statistics import Period, report
from customs.timestamps import as_utc
from gateway.store.tables import party_certificates

router = APIRouter(tags=["system"])
DEFAULT_DAYS = 30


@router.get("/statistics", summary="the figures of `gateway report` for [from, to) (default: the last 30 days)")
def statistics(
    request: Request,
    start: dt.datetime | None = Query(None, alias="from", description="ISO 8601; without a zone, UTC"),
    end: dt.datetime | None = Query(None, alias="to", description="ISO 8601, exclusive; without a zone, UTC"),
    top: int = Query(10, ge=1, le=100),
    _: Caller = guard(Permission.READ),
) -> dict[str, Any]:
    end_at = as_utc(end) if end else dt.datetime.now(dt.UTC)
    try:
        period = Period(as_utc(start) if start else end_at - dt.timedelta(days=DEFAULT_DAYS), end_at)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
    with console_of(request).services.engine.connect() as connection:
        return report(connection, period, top=top).document()


@router.get("/health", summary="the store and the broker: do they answer; queue depths; the relay's lag")
def health(request: Request, _: Caller = guard(Permission.READ)) -> dict[str, Any]:
    return probes.health(console_of(request).services)


@router.get("/parties", summary="the registered parties")
def list_parties(request: Request, _: Caller = guard(Permission.READ)) -> dict[str, Any]:
    parties = console_of(request).services.parties
    parties.refresh()
    return {"items": [_party(party) for party in parties.all()]}


@router.get("/parties/{identity}", summary="one party, with its certificates and their expiry")
def get_party(identity: str, request: Request, _: Caller = guard(Permission.READ)) -> dict[str, Any]:
    services = console_of(request).services
    party = services.parties.get(identity)
    if party is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    query = select(
        party_certificates.c.fingerprint, party_certificates.c.subject, party_certificates.c.not_before,
        party_certificates.c.not_after,
    ).where(party_certificates.c.party == identity).order_by(party_certificates.c.not_after)
    now = dt.datetime.now(dt.UTC)
    with services.engine.connect() as connection:
        certificates = [
            dict(row._mapping) | {"days_to_expiry": (as_utc(row.not_after) - now).days} for row in connection.execute(query)
        ]
    return _party(party) | {"certificates": certificates}


@router.get("/certificates", summary="party certificates expiring within `within_days` days (or expired), soonest first")
def expiring_certificates(
    request: Request, within_days: int = Query(30, ge=0, le=3650), _: Caller = guard(Permission.READ)
) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    query = (
        select(party_certificates.c.party, party_certificates.c.fingerprint, party_certificates.c.subject,
               party_certificates.c.not_after)
        .where(party_certificates.c.not_after < now + dt.timedelta(days=within_days))
        .order_by(party_certificates.c.not_after)
    )
    with console_of(request).services.engine.connect() as connection:
        rows = [dict(row._mapping) | {"days_to_expiry": (as_utc(row.not_after) - now).days} for row in connection.execute(query)]
    return {"items": rows}


@router.post("/parties/{identity}/suspend", summary="suspend a party: intake refuses it (PARTY_SUSPENDED) until reactivated")
def suspend(identity: str, body: Why, request: Request, caller: Caller = guard(Permission.ADMINISTER)) -> dict[str, Any]:
    if not actions.suspend_party(console_of(request).services.engine, caller.entry("party.suspend"), identity, body.reason):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    return {"party": identity, "status": "suspended"}


@router.post("/parties/{identity}/reactivate", summary="lift an operator's suspension of a party")
def reactivate(identity: str, body: Why, request: Request, caller: Caller = guard(Permission.ADMINISTER)) -> dict[str, Any]:
    if not actions.reactivate_party(console_of(request).services.engine, caller.entry("party.reactivate"), identity,
                                    body.reason):
        raise HTTPException(status.HTTP_409_CONFLICT, f"{identity} is not suspended by an operator")
    return {"party": identity, "status": "active"}


def _party(party: Any) -> dict[str, Any]:
    return {
        "identity": party.identity, "name": party.name, "country": party.country, "roles": sorted(party.roles),
        "status": party.status, "endpoint": party.endpoint.url if party.endpoint else None,
    }
