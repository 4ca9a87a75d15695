"""Helpers of the console's tests (tests/console): the accounts' password, the party user's party, logging in."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient

from conformance import SAMPLES_DIR
from gateway import client as gateway_client
from gateway.outbound.compose import Subject
from gateway.services import Services
from gateway.store.engine import writing

PASSWORD = "correct horse battery staple"
PARTY = "0101234567"  # a marketplace of config/parties.toml
API = "/admin/api/v1"


def form_login(client: TestClient, login: str, password: str = PASSWORD, next_page: str = "/admin/") -> str:
    """Log in through the login page; returns the page the form led to."""
    page = client.get("/admin/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = client.post("/admin/login", data={"login": login, "password": password, "csrf_token": token, "next": next_page})
    return str(answer.url)


def log_in(client: TestClient, login: str, password: str = PASSWORD) -> str:
    """Log in with the session cookie; returns the session's CSRF token."""
    answer = client.post(f"{API}/session", json={"login": login, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["csrf_token"])


def parked(services: Services, recipient: str = PARTY) -> int:
    """A RESULT_NOTICE for `recipient` that delivery gave up on: parked, waiting for an operator."""
    content = gateway_client.content_element(gateway_client.load_envelope(SAMPLES_DIR / "RESULT_NOTICE.xml"))
    with writing(services.engine) as tx:
        message = services.outbox.emit(tx, recipient, Subject("RESULT_NOTICE", "23", "107012345670"), content, "c", actor="worker")
    assert services.outbox.park(message.pk, "the partner's endpoint refused it", dt.datetime.now(dt.UTC), "delivery")
    return message.pk
