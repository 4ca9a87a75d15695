"""The party registry as admins change it: add and retire a party's certificate; and a reload of parties.toml.

The API and the pages both call `reload`, `add` and `retire` here: each reads parties.toml
(a bad file changes nothing), applies the change through the store path of
`gateway parties reload` (console.actions) and refreshes this console's registry.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from console import actions
from console.api.common import Why
from console.auth import Caller, console_of, guard
from console.roles import Permission
from gateway.exceptions import ConfigurationError
from gateway.parties import PartyConfig, read_parties_file
from gateway.signing.keys import fingerprint

router = APIRouter(tags=["parties"])
PEM_LIMIT = 16384  # one certificate; a chain or a key has no business here


class NewCertificate(BaseModel):
    pem: str = Field(min_length=1, max_length=PEM_LIMIT, description="one X.509 certificate, PEM")
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/parties/reload", summary="apply parties.toml to the store, as `gateway parties reload` does")
def reload_endpoint(request: Request, caller: Caller = guard(Permission.ACT)) -> dict[str, Any]:
    return reload(request, caller)


@router.post("/parties/{identity}/certificates", status_code=status.HTTP_201_CREATED,
             summary="register one more certificate to a party; it outlives reloads of parties.toml")
def add_endpoint(identity: str, body: NewCertificate, request: Request,
                 caller: Caller = guard(Permission.ADMINISTER)) -> dict[str, Any]:
    return add(request, caller, identity, body.pem, body.reason)


@router.post("/parties/{identity}/certificates/{certificate}/retire",
             summary="a party's certificate identifies it no more (even if parties.toml still names it)")
def retire_endpoint(identity: str, certificate: str, body: Why, request: Request,
                    caller: Caller = guard(Permission.ADMINISTER)) -> dict[str, Any]:
    """`certificate` is its fingerprint (SHA-256 of the DER, hex), as the party's detail lists it."""
    return retire(request, caller, identity, certificate, body.reason)


def reload(request: Request, caller: Caller) -> dict[str, Any]:
    services = console_of(request).services
    try:
        held = actions.reload_parties(services.engine, caller.entry("parties.reload"), _configured(request))
    except ConfigurationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, f"parties.toml refused: {exc}") from None
    services.parties.refresh()
    return {"parties": len(held), "certificates": sum(len(prints) for prints in held.values())}


def add(request: Request, caller: Caller, identity: str, pem: str, reason: str) -> dict[str, Any]:
    certificate = _certificate(pem)
    try:
        after = actions.add_certificate(console_of(request).services.engine, caller.entry("party.certificate.add"),
                                        _configured(request), identity, certificate, reason)
    except ConfigurationError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return _answer(request, identity, after) | {"added": fingerprint(certificate)}


def retire(request: Request, caller: Caller, identity: str, print_: str, reason: str) -> dict[str, Any]:
    after = actions.retire_certificate(console_of(request).services.engine, caller.entry("party.certificate.retire"),
                                       _configured(request), identity, print_.lower()[:64], reason)
    return _answer(request, identity, after) | {"retired": print_.lower()}


def _answer(request: Request, identity: str, after: list[str] | None) -> dict[str, Any]:
    if after is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    console_of(request).services.parties.refresh()
    return {"party": identity, "certificates": after}


def _configured(request: Request) -> list[PartyConfig]:
    settings = console_of(request).services.settings
    try:
        return read_parties_file(settings.parties_file, settings.pki_dir)
    except ConfigurationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, f"parties.toml refused: {exc}") from None


def _certificate(pem: str) -> x509.Certificate:
    """One PEM certificate, valid now (an expired one could identify nobody)."""
    if len(pem) > PEM_LIMIT:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "the certificate is too large")
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "not a PEM certificate") from None
    if certificate.not_valid_after_utc <= dt.datetime.now(dt.UTC):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "the certificate has expired")
    return certificate
