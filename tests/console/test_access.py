"""Deny by default: every endpoint, called with no credentials and as every role, answers as the table says.

The table below is the expected permission of every endpoint, written out by hand: an endpoint added
without an entry here fails the first test, and one guarded by another permission than expected fails the walk.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from console.app import API, PUBLIC, check_guarded, create_app
from console.context import Console
from console.roles import GRANTS, Permission, Role
from console.web import pages

pytestmark = pytest.mark.stores("sqlite")

S, R, P, A, D, U = (Permission.SELF, Permission.READ, Permission.PARTY_READ, Permission.ACT, Permission.ADMINISTER,
                    Permission.AUDIT)
EXPECTED: dict[tuple[str, str], Permission | None] = {
    ("POST", "/session"): None,
    ("GET", "/session"): S,
    ("DELETE", "/session"): S,
    ("GET", "/tokens"): S,
    ("POST", "/tokens"): S,
    ("DELETE", "/tokens/{token_id}"): S,
    ("GET", "/openapi.json"): S,
    ("GET", "/messages"): R,
    ("GET", "/messages/{pk}"): R,
    ("GET", "/messages/{pk}/raw"): R,
    ("GET", "/messages/{pk}/receipt"): R,
    ("GET", "/rejections"): R,
    ("GET", "/rejections/{pk}"): R,
    ("GET", "/dead-letters"): R,
    ("POST", "/dead-letters/{pk}/redrive"): A,
    ("GET", "/outbox"): R,
    ("GET", "/outbox/{pk}"): R,
    ("GET", "/outbox/{pk}/raw"): R,
    ("POST", "/outbox/{pk}/resend"): A,
    ("POST", "/outbox/resend"): A,
    ("GET", "/declarations"): R,
    ("GET", "/declarations/{number}"): R,
    ("GET", "/declarations/{number}/replay"): R,
    ("GET", "/inspections"): R,
    ("GET", "/alerts"): R,
    ("POST", "/alerts/{pk}/acknowledge"): A,
    ("GET", "/statistics"): R,
    ("GET", "/health"): R,
    ("GET", "/parties"): R,
    ("GET", "/parties/{identity}"): R,
    ("GET", "/certificates"): R,
    ("POST", "/parties/{identity}/suspend"): D,
    ("POST", "/parties/{identity}/reactivate"): D,
    ("POST", "/parties/reload"): A,
    ("POST", "/parties/{identity}/certificates"): D,
    ("POST", "/parties/{identity}/certificates/{certificate}/retire"): D,
    ("GET", "/operators"): D,
    ("POST", "/operators"): D,
    ("POST", "/operators/{login}/disable"): D,
    ("POST", "/operators/{login}/password"): D,
    ("GET", "/audit"): U,
    ("GET", "/audit/verify"): U,
    ("GET", "/archives"): U,
    ("POST", "/archives/{name}/verify"): U,
    ("GET", "/party/messages"): P,
    ("GET", "/party/messages/{pk}"): P,
    ("GET", "/party/messages/{pk}/receipt"): P,
    ("GET", "/party/inbox"): P,
    ("GET", "/party/inbox/{pk}/raw"): P,
    ("GET", "/party/read/{reference}"): P,
}
PAGES: dict[tuple[str, str], Permission | None] = {
    ("GET", "/admin/login"): None,
    ("POST", "/admin/login"): None,
    ("GET", "/admin/lang/{code}"): None,
    ("GET", "/admin/static/console.css"): None,
    ("POST", "/admin/logout"): S,
    ("GET", "/admin/"): S,
    ("GET", "/admin/messages"): R,
    ("GET", "/admin/messages/{pk}"): R,
    ("GET", "/admin/rejections"): R,
    ("GET", "/admin/dead-letters"): R,
    ("POST", "/admin/dead-letters/{pk}/redrive"): A,
    ("GET", "/admin/outbox"): R,
    ("GET", "/admin/outbox/{pk}"): R,
    ("POST", "/admin/outbox/{pk}/resend"): A,
    ("GET", "/admin/declarations"): R,
    ("GET", "/admin/declarations/{number}"): R,
    ("GET", "/admin/inspections"): R,
    ("GET", "/admin/parties"): R,
    ("POST", "/admin/parties/{identity}/suspend"): D,
    ("POST", "/admin/parties/{identity}/reactivate"): D,
    ("POST", "/admin/parties/reload"): A,
    ("POST", "/admin/parties/{identity}/certificates"): D,
    ("POST", "/admin/parties/{identity}/certificates/{certificate}/retire"): D,
    ("GET", "/admin/alerts"): R,
    ("POST", "/admin/alerts/{pk}/acknowledge"): A,
    ("GET", "/admin/audit"): U,
    ("GET", "/admin/archives"): U,
    ("POST", "/admin/archives/{name}/verify"): U,
    ("GET", "/admin/reports"): R,
    ("GET", "/admin/reports.csv"): R,
    ("GET", "/admin/party"): P,
    ("GET", "/admin/party/messages/{pk}"): P,
}
PATH_VALUES = {"{pk}": "999999", "{token_id}": "999999", "{identity}": "NOBODY", "{login}": "nobody",
               "{reference}": "NO-SUCH-REFERENCE", "{certificate}": "00" * 32, "{name}": "no-such.tar",
               "{number}": "NO-SUCH-DECLARATION", "{code}": "vi"}


def concrete(path: str) -> str:
    for placeholder, value in PATH_VALUES.items():
        path = path.replace(placeholder, value)
    return path


def endpoints(console: Console) -> set[tuple[str, str]]:
    """Every endpoint of the API, as the OpenAPI document lists them."""
    paths = create_app(console).openapi()["paths"]
    return {(method.upper(), path.removeprefix(API)) for path, operations in paths.items() for method in operations}


def page_endpoints() -> set[tuple[str, str]]:
    return {(method, route.path) for route in pages.router.routes if isinstance(route, APIRoute) for method in route.methods}


def test_every_endpoint_is_in_the_table(console: Console) -> None:
    assert endpoints(console) == set(EXPECTED)
    assert page_endpoints() == set(PAGES)
    public = {(method, API + path) for (method, path), permission in EXPECTED.items() if permission is None}
    assert public | {endpoint for endpoint, permission in PAGES.items() if permission is None} == PUBLIC


def test_an_unguarded_endpoint_stops_the_application(console: Console) -> None:
    router = APIRouter()
    router.get("/forgotten")(lambda: {"open": True})
    with pytest.raises(RuntimeError, match="GET /admin/api/v1/forgotten requires no permission"):
        check_guarded([(route, API) for route in router.routes])


def test_every_endpoint_with_no_credentials_and_with_every_role(client: TestClient, token_for: Callable[[str], str]) -> None:
    tokens = {role: token_for(role.value) for role in Role}
    walked = 0
    everything = {(method, API + path): permission for (method, path), permission in EXPECTED.items()} | PAGES
    for (method, path), permission in everything.items():
        if permission is None:
            continue
        url = concrete(path)
        nobody = 401 if path.startswith(API) else 303  # a page sends the caller to the login page
        anonymous = client.request(method, url, json={}, follow_redirects=False)
        assert anonymous.status_code == nobody, (method, path, anonymous.text)
        if nobody == 303:
            assert anonymous.headers["location"].startswith("/admin/login?next=")
        forged = client.request(method, url, json={}, headers={"Authorization": "Bearer gwt_forged"}, follow_redirects=False)
        assert forged.status_code == nobody, (method, path)
        for role, token in tokens.items():
            answer = client.request(method, url, json={}, headers={"Authorization": f"Bearer {token}"}, follow_redirects=False)
            if permission in GRANTS[role]:
                assert answer.status_code not in (401, 403), (role, method, path, answer.status_code, answer.text)
            else:
                assert answer.status_code == 403, (role, method, path, answer.status_code)
            walked += 1
    assert walked == len(Role) * sum(1 for permission in everything.values() if permission is not None)
