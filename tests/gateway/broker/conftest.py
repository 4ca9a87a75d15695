"""Broker fixtures: an empty store per test (the outbox relay reads *every* accepted message, so the
run-wide PostgreSQL database, which other tests fill, would leak their messages into these tests),
and a plain AMQP channel to look into the test's queues."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pika.spec import BasicProperties
from support import AMQP_URL, wait_until

from gateway.broker.connection import connect


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Overrides the run-wide fixture: PostgreSQL gets a schema of this test's own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.db'}"
        return
    base: str = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{base}?options=-csearch_path%3D{schema}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class Queues:
    """Reads the test's queues with basic_get (each message taken is acknowledged, i.e. removed)."""

    def __init__(self) -> None:
        self.connection = connect(AMQP_URL, name="test-inspector")
        self.channel = self.connection.channel()

    def ready(self, queue: str) -> int:
        return self.channel.queue_declare(queue, passive=True).method.message_count

    def take(self, queue: str) -> tuple[BasicProperties, bytes] | None:
        method, properties, body = self.channel.basic_get(queue, auto_ack=True)
        return (properties, body) if method is not None else None

    def take_all(self, queue: str, expected: int, timeout: float = 15.0) -> list[tuple[BasicProperties, bytes]]:
        """Wait for `expected` messages in `queue` and take them; fails if more are there."""
        taken: list[tuple[BasicProperties, bytes]] = []

        def enough() -> bool:
            while (message := self.take(queue)) is not None:
                taken.append(message)
            return len(taken) >= expected

        wait_until(enough, timeout=timeout, interval=0.05)
        assert len(taken) == expected, f"{queue} held {len(taken)} messages, expected {expected}"
        return taken

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


@pytest.fixture
def queues() -> Iterator[Queues]:
    inspector = Queues()
    yield inspector
    inspector.close()
