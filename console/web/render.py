"""Rendering a page: the caller's language, the permissions it holds (for the menu), its CSRF token, and
headers that allow the page nothing but its own stylesheet."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from console.auth import Caller
from console.roles import Permission, allows
from console.web.i18n import LANGUAGES, chosen, environment

LANGUAGE_COOKIE = "gw_lang"
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def language_of(request: Request) -> str:
    return chosen(request.cookies.get(LANGUAGE_COOKIE))


def render(request: Request, template: str, caller: Caller | None = None, status_code: int = 200, **context: Any) -> HTMLResponse:
    language = language_of(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    html = environment(language).get_template(template).render(
        language=language,
        languages=LANGUAGES,
        caller=caller,
        csrf=caller.session.csrf if caller and caller.session else "",
        may=lambda permission: caller is not None and allows(caller.operator.role, Permission(permission)),
        here=quote(here, safe="/"),
        older=lambda before: f"{request.url.path}?{urlencode({**request.query_params, 'before': before})}",
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers={"Content-Security-Policy": PAGE_CSP})
