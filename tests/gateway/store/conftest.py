"""Store fixtures: a MessageStore on an empty database of the test's own, SQLite and PostgreSQL.

The run-wide PostgreSQL database is shared by every test of the run, so queries over
the whole table (counts, the outbox's "everything accepted") would see other tests'
rows. Each test here gets a schema of its own in it instead (search_path), dropped
afterwards.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from gateway.store.engine import make_engine
from gateway.store.messages import MessageStore, NewMessage


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base: str = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{base}?options=-csearch_path%3D{schema}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    built = make_engine(store_url)
    yield built
    built.dispose()


@pytest.fixture
def store(engine: Engine) -> MessageStore:
    return MessageStore(engine)


@pytest.fixture
def make_message() -> object:
    """The factory below, for the test modules (a conftest is not importable by name here)."""
    return new_message


def new_message(
    *,
    sender: str = "0101234567",
    message_id: str | None = None,
    body: bytes | None = None,
    receipt: bytes | None = None,
    document_type: str = "ECOM_ORDER",
    function: str = "01",
    route: str = "orders",
) -> NewMessage:
    """A NewMessage with a fresh id; `digest` is the SHA-256 of `body`, as intake computes it."""
    message_id = message_id or str(uuid.uuid4())
    body = (
        body if body is not None else f"<Envelope id='{message_id}'>Hải quan \u2713</Envelope>".encode() + b"\x00\xff"
    )
    return NewMessage(
        sender=sender,
        message_id=message_id,
        recipient="VNECOMGW",
        document_type=document_type,
        function=function,
        reference=f"REF-{message_id[:8]}",
        pre_reference=None,
        correlation_id=f"corr-{message_id}",
        door="http",
        digest=hashlib.sha256(body).hexdigest(),
        body=body,
        receipt=receipt if receipt is not None else f"<Receipt for='{message_id}' n='{uuid.uuid4()}'/>".encode(),
        route=route,
    )
