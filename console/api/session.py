"""Logging in and out, who am I, and one's own API tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from console import audit
from console.auth import COOKIE, Caller, address_of, console_of, guard
from console.roles import Permission
from console.sessions import Session
from gateway.store.engine import writing

router = APIRouter(tags=["session"])


class Credentials(BaseModel):
    login: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=64)


def authenticate(request: Request, login: str, password: str) -> Session:
    """Check the credentials (throttled) and open a session; every try is audited. 401 or 429 when refused."""
    console = console_of(request)
    address = address_of(request)
    login = login.strip().lower()
    if console.sessions.throttled(login, address):
        _audit(request, audit.Entry(f"login:{login}", "login.throttled", address, login))
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many failed logins; try again later",
                            headers={"Retry-After": str(int(console.sessions.settings.login_window_s))})
    operator = console.accounts.check_password(login, password)
    if operator is None:
        console.sessions.note_failure(login, address)
        _audit(request, audit.Entry(f"login:{login}", "login.failed", address, login))
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong login or password")
    session = console.sessions.open(operator, address)
    _audit(request, audit.Entry(operator.actor, "login", address, operator.login))
    return session


def set_session_cookie(request: Request, response: Response, session: Session) -> None:
    settings = console_of(request).sessions.settings
    response.set_cookie(
        COOKIE, session.secret, max_age=int(settings.session_ttl_s), httponly=True, samesite="strict",
        secure=settings.secure_cookies, path="/admin",
    )


def log_out(request: Request, response: Response, caller: Caller) -> None:
    if caller.session is not None:
        console_of(request).sessions.close(caller.session.secret)
    _audit(request, caller.entry("logout", caller.operator.login))
    response.delete_cookie(COOKIE, path="/admin")


@router.post("/session", summary="log in: sets the session cookie; answers the CSRF token for this session")
def create_session(credentials: Credentials, request: Request, response: Response) -> dict[str, Any]:
    session = authenticate(request, credentials.login, credentials.password)
    set_session_cookie(request, response, session)
    return {"operator": session.operator.public(), "csrf_token": session.csrf, "expires_at": session.expires_at}


@router.get("/session", summary="who is logged in")
def current_session(caller: Caller = guard(Permission.SELF)) -> dict[str, Any]:
    session = caller.session
    return {
        "operator": caller.operator.public(),
        "csrf_token": session.csrf if session else None,
        "expires_at": session.expires_at if session else None,
    }


@router.delete("/session", summary="log out")
def delete_session(request: Request, response: Response, caller: Caller = guard(Permission.SELF)) -> dict[str, Any]:
    log_out(request, response, caller)
    return {"logged_out": True}


@router.get("/tokens", summary="my API tokens (never their secrets)")
def list_tokens(request: Request, caller: Caller = guard(Permission.SELF)) -> dict[str, Any]:
    return {"items": console_of(request).accounts.tokens(caller.operator)}


@router.post("/tokens", status_code=201, summary="a new API token: its secret is shown this once")
def issue_token(new: NewToken, request: Request, caller: Caller = guard(Permission.SELF)) -> dict[str, Any]:
    pk, secret = console_of(request).accounts.issue_token(caller.operator, new.name, by=caller.entry("token.issue"))
    return {"id": pk, "name": new.name, "token": secret}


@router.delete("/tokens/{token_id}", summary="revoke one of my API tokens")
def revoke_token(token_id: int, request: Request, caller: Caller = guard(Permission.SELF)) -> dict[str, Any]:
    if not console_of(request).accounts.revoke_token(caller.operator, token_id, by=caller.entry("token.revoke")):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such token of yours")
    return {"revoked": token_id}


def _audit(request: Request, entry: audit.Entry) -> None:
    with writing(console_of(request).services.engine) as tx:
        audit.record(tx, entry)
