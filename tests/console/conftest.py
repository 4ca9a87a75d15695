"""The console's fixtures: its application on the test's store and broker namespace, and one account per role."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from console_support import PARTY, PASSWORD
from fastapi.testclient import TestClient

from app.wiring import Assembly
from console import accounts, audit
from console.app import create_app
from console.context import Console
from console.roles import Role

BY = audit.Entry("operator:test", "account.add", "local")


@pytest.fixture(scope="session")
def password_hash() -> str:
    """PASSWORD hashed as the console hashes passwords (argon2id), once per run: a hash costs ~0.2 s of CPU by design."""
    return accounts._hashed(PASSWORD)


@pytest.fixture
def console(assembly: Assembly, password_hash: str, monkeypatch: pytest.MonkeyPatch) -> Console:
    built = Console.of(assembly.services, assembly.rules)
    with monkeypatch.context() as hashing:  # the accounts made here take the run's hash of PASSWORD (logins verify it)
        hashing.setattr(accounts, "_hashed", {PASSWORD: password_hash}.__getitem__)
        for role in Role:
            built.accounts.add(role.value, role.value, PASSWORD, party=PARTY if role is Role.PARTY else None, by=BY)
    return built


@pytest.fixture
def client(console: Console) -> Iterator[TestClient]:
    with TestClient(create_app(console), base_url="http://127.0.0.1") as test_client:
        yield test_client

@pytest.fixture
def token_for(console: Console) -> Callable[[str], str]:
    """A new API token of an account (the secret)."""

    def issue(login: str) -> str:
        operator = console.accounts.get(login)
        assert operator is not None
        return console.accounts.issue_token(operator, "tests", by=audit.Entry(operator.actor, "token.issue"))[1]

    return issue
