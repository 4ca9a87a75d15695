"""The gateway tests' store: an engine on the test's own empty store (`db_url`: SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from gateway.store.engine import make_engine
from gateway.store.messages import MessageStore


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    built = make_engine(db_url)
    yield built
    built.dispose()


@pytest.fixture
def store(engine: Engine) -> MessageStore:
    return MessageStore(engine)
