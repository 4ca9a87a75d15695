"""Helpers of the console's tests (tests/console): the accounts' password, the party user's party, logging in."""

from __future__ import annotations

from fastapi.testclient import TestClient

PASSWORD = "correct horse battery staple"
PARTY = "0101234567"  # a marketplace of config/parties.toml
API = "/admin/api/v1"


def log_in(client: TestClient, login: str, password: str = PASSWORD) -> str:
    """Log in with the session cookie; returns the session's CSRF token."""
    answer = client.post(f"{API}/session", json={"login": login, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["csrf_token"])
