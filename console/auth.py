"""Who is asking, and may they: the dependencies every endpoint declares.

A caller proves who they are with the session cookie (set by logging in) or with an
API token (`Authorization: Bearer gwt_...`, for scripts). Every endpoint requires one
permission (`requires`); `console.app` refuses to start with an endpoint that
declares none, unless it is on the short list of public ones: deny by default.

A request that changes state (any method but GET and HEAD) made with a session
cookie must carry the session's CSRF token in the `X-CSRF-Token` header (or the
`csrf_token` form field): a cross-site form can make the browser send the cookie,
never the token. An API token is not sent by the browser on its own, so a request
made with one needs no CSRF token.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request, status

from console import audit
from console.accounts import Operator
from console.context import Console
from console.roles import Permission, allows
from console.sessions import Session

COOKIE = "gw_console"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Caller:
    operator: Operator
    address: str
    session: Session | None  # None: an API token

    def entry(self, action: str, target: str | None = None, before: object = None, after: object = None,
              reason: str | None = None) -> audit.Entry:
        """An audit record of something this caller does."""
        return audit.Entry(self.operator.actor, action, self.address, target, before, after, reason)


def console_of(request: Request) -> Console:
    return request.app.state.console  # type: ignore[no-any-return]


def address_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _caller(request: Request) -> Caller | None:
    console = console_of(request)
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, secret = authorization.partition(" ")
        operator = console.accounts.by_token(secret.strip()) if scheme.lower() == "bearer" else None
        return Caller(operator, address_of(request), None) if operator is not None else None
    cookie = request.cookies.get(COOKIE)
    session = console.sessions.find(cookie) if cookie else None
    if session is None:
        return None
    if request.method not in SAFE_METHODS and not await _csrf_ok(request, session):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
    return Caller(session.operator, address_of(request), session)


async def _csrf_ok(request: Request, session: Session) -> bool:
    offered = request.headers.get(CSRF_HEADER)
    if offered is None and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        offered = value if isinstance(value, str) else None
    return offered is not None and secrets.compare_digest(offered.encode(), session.csrf.encode())


def requires(permission: Permission) -> Callable[..., object]:
    """A dependency: the caller, if they hold `permission`; else 401 (nobody) or 403 (not allowed)."""

    async def check(request: Request) -> Caller:
        caller = await _caller(request)
        if caller is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "log in first", headers={"WWW-Authenticate": "Bearer"})
        if not allows(caller.operator.role, permission):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"the role {caller.operator.role} may not do this")
        return caller

    check.permission = permission  # type: ignore[attr-defined]  (read by console.app's deny-by-default check)
    return check


def guard(permission: Permission) -> object:
    """`caller: Caller = guard(Permission.READ)` in an endpoint's signature."""
    return Depends(requires(permission))
