"""The console's FastAPI application: the admin API under /admin/api/v1 and the pages under /admin, deny by default.

`create_app` refuses to build an application with an endpoint that requires no
permission, except the few in PUBLIC (logging in): a new endpoint cannot be open by
mistake. Every answer carries headers that keep it out of caches and frames, and a
body larger than MAX_BODY is refused before it is read in full.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console.api import accounts, audit_trail, business, outbox, party, registry, session, system, traffic
from console.web import pages
from console.web.render import render
from console.auth import Caller, guard
from console.context import Console
from console.roles import Permission

API = "/admin/api/v1"
ROUTERS = (session.router, traffic.router, outbox.router, business.router, system.router, registry.router, accounts.router,
           audit_trail.router, party.router)
PUBLIC = frozenset({
    ("POST", f"{API}/session"),
    ("GET", "/admin/login"),
    ("POST", "/admin/login"),  # checks its own CSRF token, bound to a cookie of the login page
    ("GET", "/admin/lang/{code}"),
    ("GET", "/admin/static/console.css"),
})
MAX_BODY = 64 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
log = structlog.get_logger(__name__)


def create_app(console: Console) -> FastAPI:
    app = FastAPI(
        title="Customs gateway: operators' console",
        version="1",
        openapi_url=None,  # served below, to logged-in callers only
        docs_url=None,
        redoc_url=None,
    )
    app.state.console = console
    for router in ROUTERS:
        app.include_router(router, prefix=API)
    app.include_router(pages.router)

    @app.get(f"{API}/openapi.json", tags=["session"], summary="this API's OpenAPI 3 document")
    def openapi(_: Caller = guard(Permission.SELF)) -> dict[str, Any]:
        return app.openapi()

    @app.exception_handler(StarletteHTTPException)
    async def refused(request: Request, exc: StarletteHTTPException) -> Response:
        """The API answers JSON; a page sends a caller without a session to log in, and shows other refusals."""
        if request.url.path.startswith(API) or not request.url.path.startswith("/admin"):
            return await http_exception_handler(request, exc)
        if exc.status_code == 401:
            target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="/")
            return RedirectResponse(f"/admin/login?next={target}", status_code=303)
        return render(request, "error.html", status_code=exc.status_code, detail=exc.detail)

    @app.exception_handler(SQLAlchemyError)
    async def store_unavailable(_request: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.error("console: the store failed", error=str(getattr(exc, "orig", exc)).splitlines()[0])
        return JSONResponse({"detail": "the store is unavailable"}, status_code=503)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    check_guarded([(route, "") for route in (*app.routes, *pages.router.routes)]
                  + [(route, API) for router in ROUTERS for route in router.routes])
    app.add_middleware(BodyLimit, limit=MAX_BODY)
    return app


def required_permission(route: APIRoute) -> Permission | None:
    """The permission an endpoint's dependencies require, if any."""
    for dependency in route.dependant.dependencies:
        permission = getattr(dependency.call, "permission", None)
        if permission is not None:
            return permission  # type: ignore[no-any-return]
    return None


def check_guarded(routes: Iterable[tuple[BaseRoute, str]]) -> None:
    """Deny by default: every endpoint requires a permission, or is one of the PUBLIC few.

    `routes`: each route with the prefix it is mounted at.
    """
    for route, prefix in routes:
        if not isinstance(route, APIRoute):
            continue
        path = prefix + route.path
        for method in route.methods:
            if (method, path) not in PUBLIC and required_permission(route) is None:
                raise RuntimeError(f"{method} {path} requires no permission: guard it, or list it in PUBLIC")


class BodyLimit:
    """Refuses a request body over `limit` bytes (413), by its Content-Length or as it streams in."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await JSONResponse({"detail": "request body too large"}, status_code=413)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except TooLarge:
            await JSONResponse({"detail": "request body too large"}, status_code=413)(scope, receive, send)


class TooLarge(Exception):
    """A streamed request body went over the limit."""
