"""Shared fixtures: a test PKI, isolated stores (SQLite and PostgreSQL), an isolated broker namespace,
the gateway's services and pipeline, signed test messages, and a live gateway in a subprocess.

Integration tests use the real RabbitMQ and PostgreSQL servers (scripts/services-up starts them);
every test run gets its own PostgreSQL database and its own broker namespace, removed afterwards.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from business import exchange, inspection_result_fixture  # noqa: F401  (fixtures for the business tests)
from support import AMQP_URL, PG_ADMIN_URL, REPO, LiveGateway, MessageFactory, Queues, isolated_schema, write_config
from workers import handled, workers  # noqa: F401  (fixtures for the worker and business tests)

from app.wiring import Assembly, assemble
from gateway.broker.connection import connect
from gateway.config import Settings, load_settings
from gateway.parties import read_parties_file
from gateway.pipeline import Pipeline
from gateway.services import Services
from gateway.signing.keys import SigningIdentity
from gateway.signing.pki import init_pki

# --- PKI ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    parties = [p.key_spec() for p in read_parties_file(REPO / "config" / "parties.toml", directory)]
    init_pki(directory, parties)
    return directory


@pytest.fixture(scope="session")
def identity(pki_dir: Path) -> Callable[[str], SigningIdentity]:
    cache: dict[str, SigningIdentity] = {}

    def load(party: str) -> SigningIdentity:
        if party not in cache:
            cache[party] = SigningIdentity.load(pki_dir / f"{party}.key.pem", pki_dir / f"{party}.cert.pem")
        return cache[party]

    return load


# --- stores -------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this test run's own."""
    name = f"gwtest_{uuid.uuid4().hex[:12]}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield admin.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test that takes this runs on both stores, each time on an empty store of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.db'}"
        return
    with isolated_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def queues() -> Iterator[Queues]:
    inspector = Queues()
    yield inspector
    inspector.close()


# --- settings, services, pipeline ---------------------------------------------


@pytest.fixture
def namespace() -> str:
    return f"gwtest-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    return write_config(tmp_path / "config", pki_dir, namespace)


@pytest.fixture
def settings(config_path: Path, db_url: str) -> Settings:
    return load_settings(config_path, environ={"GATEWAY_DB_URL": db_url, "GATEWAY_AMQP_URL": AMQP_URL})


@pytest.fixture
def assembly(settings: Settings) -> Iterator[Assembly]:
    """The gateway's parts as `serve` wires them, on the test's store and broker namespace."""
    built = assemble(settings, sync_registry=True)
    with contextlib.closing(connect(AMQP_URL)) as connection:
        built.services.topology.declare(connection.channel())
    yield built
    built.close()
    # A fresh connection: a test may have restarted the broker in between.
    with contextlib.closing(connect(AMQP_URL)) as connection:
        built.services.topology.delete(connection.channel())


@pytest.fixture
def services(assembly: Assembly) -> Services:
    return assembly.services


@pytest.fixture
def pipeline(assembly: Assembly) -> Pipeline:
    return assembly.pipeline()


# --- messages -----------------------------------------------------------------


@pytest.fixture(scope="session")
def messages(identity: Callable[[str], SigningIdentity]) -> MessageFactory:
    return MessageFactory(identity)


# --- a live gateway -----------------------------------------------------------


@pytest.fixture
def live_gateway(config_path: Path, db_url: str, tmp_path: Path, services: Services) -> Iterator[LiveGateway]:
    """A running gateway sharing `services`' store and broker namespace (so tests can look inside)."""
    gateway = LiveGateway(config_path, db_url, tmp_path / "gateway.log").start()
    yield gateway
    gateway.stop()



