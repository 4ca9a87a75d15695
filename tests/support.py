"""Helpers for the tests: paths, a builder of signed test messages, a live gateway subprocess."""


from __future__ import annotations

import contextlib
import fcntl
import os
import re
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from alembic import command
from lxml import etree
from pika.spec import BasicProperties
from sqlalchemy import text

from app.process import GatewayProcess
from conformance import SAMPLE_SENDERS, SAMPLES_DIR
from gateway import client, config
from gateway.broker.connection import connect
from gateway.config import DEFAULT_AMQP_URL
from gateway.envelope import qname
from gateway.services import Services
from gateway.signing.keys import SigningIdentity
from gateway.store import schema
from gateway.store.engine import make_engine

REPO = Path(__file__).resolve().parent.parent
AMQP_URL = os.environ.get("GATEWAY_AMQP_URL", DEFAULT_AMQP_URL)
PG_ADMIN_URL = os.environ.get("GATEWAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
GATEWAY_ID = "VNECOMGW"
# Marketplaces registered on the shared live gateways only to pull: each test that pulls has one of its own,
# since nothing else sends them anything (a pull's counts are then the test's own).
PULLERS = ("0400000101", "0400000102", "0400000103", "0400000104")



def write_config(directory: Path, pki_dir: Path, namespace: str, **sections: dict[str, object]) -> Path:
    """A gateway.toml for tests: its own var dir, the test PKI, the repo's parties and routes."""
    values: dict[str, dict[str, object]] = {
        "paths": {"var": str(directory / "var"), "pki": str(pki_dir)},
        "http": {"processes": 2, "threads": 4},
        "broker": {"namespace": namespace, "relay_interval_s": 0.5, "relay_grace_s": 1.0, "max_attempts": 3},
        "registry": {
            "parties": str(REPO / "config" / "parties.toml"),
            "routes": str(REPO / "config" / "routes.toml"),
            "partners": str(REPO / "config" / "partners.toml"),
            "business": str(REPO / "config" / "business.toml"),
            "risk": str(REPO / "config" / "risk.toml"),
        },
        "logging": {"format": "json", "level": "info"},
        # The suite's OCSP responders answer on a machine busy with the whole suite; the tests of the timeout
        # itself set theirs.
        "revocation": {"ocsp_timeout_s": 10.0},
    }
    for name, section in sections.items():
        values.setdefault(name, {}).update(section)
    return config.write_config(directory / "gateway.toml", values)


def config_with_rules(
    tmp_path: Path,
    pki_dir: Path,
    namespace: str,
    business: Callable[[str], str] | None = None,
    risk: Callable[[str], str] | None = None,
) -> Path:
    """A test configuration whose business.toml and/or risk.toml are the repository's, edited by the given
    functions and written under `tmp_path` (as tmp_path/business.toml and tmp_path/risk.toml)."""
    registry = {}
    for name, edit in (("business", business), ("risk", risk)):
        if edit is not None:
            path = tmp_path / f"{name}.toml"
            path.write_text(edit((REPO / "config" / f"{name}.toml").read_text(encoding="utf-8")), encoding="utf-8")
            registry[name] = str(path)
    return write_config(tmp_path / "config", pki_dir, namespace, registry=registry)


def without_random_selection(risk: str) -> str:
    """risk.toml with the random selection rate at 0: lanes then depend only on what a test arranges."""
    return re.sub(r"(?m)^minimum_rate_percent = .*$", "minimum_rate_percent = 0.0", risk)


class MessageFactory:
    """Signed test messages built from the samples, with fresh ids."""

    def __init__(self, identity: Callable[[str], SigningIdentity]) -> None:
        self.identity = identity

    def envelope(self, document_type: str, sender: str | None = None) -> etree._Element:
        root = client.refresh(client.load_envelope(SAMPLES_DIR / f"{document_type}.xml"))
        if sender is not None:
            root.find(f"{qname('Header')}/{qname('From')}/{qname('identity')}").text = sender
        return root

    def sign(self, root: etree._Element, party: str) -> bytes:
        return client.sign(root, self.identity(party))

    def signed(
        self,
        document_type: str = "ECOM_DECLARATION",
        party: str | None = None,
        edit: Callable[[etree._Element], object] | None = None,
    ) -> bytes:
        """A sample of `document_type`, from and signed by `party` (its usual sender by default)."""
        party = party or SAMPLE_SENDERS[document_type]
        root = self.envelope(document_type, party)
        if edit is not None:
            edit(root)
        return self.sign(root, party)


class LiveGateway(GatewayProcess):
    """A gateway subprocess for a test, with the test's store and the real broker."""

    def __init__(self, config_path: Path, db_url: str, log_path: Path, role: str | None = None) -> None:
        super().__init__(config_path, log_path, {"GATEWAY_DB_URL": db_url, "GATEWAY_AMQP_URL": AMQP_URL}, role)


def evaluate_location(location: str, root: etree._Element) -> list[etree._Element]:
    """Evaluate a problem's location (gateway.locations: "line N, XPATH (prefix = namespace, ...)") on `root`'s tree."""
    match = re.fullmatch(r"line \d+, (?P<path>\S+)(?: \((?P<bindings>.*)\))?", location)
    assert match, location
    bindings = match["bindings"].split(", ") if match["bindings"] else []
    namespaces = dict(binding.split(" = ") for binding in bindings)
    return root.getroottree().xpath(match["path"], namespaces=namespaces)


@dataclass(frozen=True)
class Live:
    """A running gateway shared by the tests of a run, with its configuration and a look inside it."""

    process: LiveGateway
    services: Services  # on the gateway's store and broker namespace
    config_path: Path

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def port(self) -> int:
        return self.process.port


@contextlib.contextmanager
def served(server: socketserver.BaseServer) -> Iterator[str]:
    """Run a test's HTTP server (bound to 127.0.0.1) in a thread; yields its base URL, and it is down once left."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def wait_until(condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.2) -> object:
    """Poll `condition` until it returns something truthy; fail the test with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s: {getattr(condition, '__name__', condition)}")



def previous_release_store(url: str) -> None:
    """At `url`, the store of the last release before migrations: the baseline's tables, no alembic_version."""
    engine = make_engine(url, create_schema=False)
    try:
        with engine.begin() as connection:
            command.upgrade(schema.config(connection), schema.BASELINE)
            connection.execute(text("DROP TABLE alembic_version"))
    finally:
        engine.dispose()


@contextlib.contextmanager
def isolated_schema(database_url: str) -> Iterator[str]:
    """A URL for an empty PostgreSQL schema of its own in `database_url`, dropped afterwards.

    Tests share the run's database, and some queries cover whole tables (counts, the
    outbox's "everything accepted"): each test gets a schema (search_path) of its own.
    """
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{database_url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class ServerTurns:
    """Turns on the one RabbitMQ and the one PostgreSQL server, across the pytest-xdist workers of a run (file locks).

    Tests and module-scoped users of the servers take shared turns (a worker's nested turns are one); a test
    that restarts a server takes an exclusive turn, and counts it in `restarts`, so that what lives longer than
    a turn (the shared live gateways) can tell that its connections went through a restart.

    A restart waiting for its turn goes first: it holds the queue, so that no new shared turn begins meanwhile
    (flock alone would let the other workers' tests, one after the other, keep it waiting for minutes).
    """

    def __init__(self, directory: Path) -> None:
        self.queue = directory / "broker-turns.queue"
        self.lock = directory / "broker-turns.lock"
        self.count = directory / "broker-turns.restarts"
        self.shared = 0  # this worker's shared turns held now

    @contextlib.contextmanager
    def hold(self, exclusive: bool = False) -> Iterator[None]:
        if self.shared and not exclusive:
            self.shared += 1  # nested in a turn this worker holds: a waiting restart waits for the outer one anyway
            try:
                yield
            finally:
                self.shared -= 1
            return
        with self.queue.open("a") as queue, self.lock.open("a") as turns:
            fcntl.flock(queue, fcntl.LOCK_EX)
            try:
                fcntl.flock(turns, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            finally:
                fcntl.flock(queue, fcntl.LOCK_UN)
            try:
                if exclusive:
                    self.count.write_text(str(self.restarts() + 1), encoding="utf-8")
                else:
                    self.shared += 1
                yield
            finally:
                if not exclusive:
                    self.shared -= 1
                fcntl.flock(turns, fcntl.LOCK_UN)

    def restarts(self) -> int:
        return int(self.count.read_text(encoding="utf-8")) if self.count.exists() else 0


class Queues:
    """Reads the test's queues with basic_get (each message taken is acknowledged, i.e. removed)."""

    def __init__(self) -> None:
        self.connection = connect(AMQP_URL, name="test-inspector")
        self.channel = self.connection.channel()

    def ready(self, queue: str) -> int:
        return self.channel.queue_declare(queue, passive=True).method.message_count

    def consumers(self, queue: str) -> int:
        return self.channel.queue_declare(queue, passive=True).method.consumer_count

    def take(self, queue: str) -> tuple[BasicProperties, bytes] | None:
        method, properties, body = self.channel.basic_get(queue, auto_ack=True)
        return (properties, body) if method is not None else None

    def take_all(self, queue: str, expected: int, timeout: float = 30.0) -> list[tuple[BasicProperties, bytes]]:
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
