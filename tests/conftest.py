"""Shared fixtures: a test PKI, isolated stores (SQLite and PostgreSQL), an isolated broker namespace,
the gateway's services and pipeline, signed test messages, and live gateways in subprocesses.

Integration tests use the real RabbitMQ and PostgreSQL servers (scripts/services-up starts them);
every test run (every pytest-xdist worker) gets its own PostgreSQL database, and every test its own
broker namespace and store, removed afterwards.

The rules the suite runs by:

- **Which store.** A test that takes `db_url` (directly or through `settings`, `services`, `pipeline`...)
  runs once per store of its closest `stores` mark, by default on both SQLite and PostgreSQL. Both stores
  are kept for what the store itself decides: the store and its group commit (tests/gateway/store), the
  pipeline's record, duplicate and conflict handling, the relay, the workers' claims and idempotence,
  delivery and pull acknowledgements, the dialect-specific statements (ON CONFLICT) and the reports' SQL.
  The business (tests/customs, tests/routing/handlers, the CLI's readers) runs on SQLite
  (`pytestmark = pytest.mark.stores("sqlite")`), with PostgreSQL cross-checks marked on the tests that
  keep both stores. A test's store is at the schema's head, a copy of a template migrated once per worker
  (tests/stores.py); a test about making or migrating a store asks for an empty one (`pytest.mark.empty_store`).
- **Which tier.** A test that needs RabbitMQ or PostgreSQL is marked `integration` automatically, from the
  fixtures it uses (SERVER_FIXTURES, or `db_url` on PostgreSQL); a test that reaches a server some other way
  carries the mark by hand. `scripts/test -m "not integration"` runs the rest, with no server at all.
- **In parallel.** scripts/test runs the suite with pytest-xdist, a module's tests on one worker
  (`--dist loadscope`), so that module-scoped fixtures are made once; session-scoped ones (the PKI, the
  PostgreSQL database, the shared live gateways) are made once per worker. Every integration test holds a shared
  turn on the servers (ServerTurns) while it runs; a test marked `restarts_a_server` takes an exclusive turn
  while it restarts RabbitMQ or PostgreSQL, so that no other test sees the outage. The workers take the modules
  in the order of `schedule_rank`: the restarts, then the modules that need no server, then the modules marked
  `slow`, then the others.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from business import exchange, inspection_result_fixture  # noqa: F401  (fixtures for the business tests)
from stores import StoreTemplates
from support import (
    AMQP_URL,
    PG_ADMIN_URL,
    PULLERS,
    REPO,
    Live,
    LiveGateway,
    MessageFactory,
    Queues,
    ServerTurns,
    isolated_schema,
    write_config,
)
from workers import handled, workers  # noqa: F401  (fixtures for the worker tests)

from app.wiring import Assembly, assemble
from gateway.broker.connection import connect
from gateway.config import Settings, load_settings
from gateway.parties import read_parties_file
from gateway.pipeline import Pipeline
from gateway.schemas.registry import SchemaRegistry
from gateway.services import Services
from gateway.signing.keys import SigningIdentity
from gateway.signing.pki import init_pki
from gateway.signing.revocation.dev_crl import issue_crl

STORES = ("sqlite", "postgresql")
# Fixtures that reach RabbitMQ or PostgreSQL: a test using any of them is an integration test.
SERVER_FIXTURES = frozenset({"postgres_url", "assembly", "queues", "live_gateway", "gateway_on_each_store"})


# --- how the suite runs: stores, tiers, parallel groups -------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_url" in metafunc.fixturenames and not parametrizes(metafunc, "db_url"):
        marker = metafunc.definition.get_closest_marker("stores")
        metafunc.parametrize("db_url", marker.args if marker else STORES, indirect=True)


def parametrizes(metafunc: pytest.Metafunc, name: str) -> bool:
    """Whether the test parametrizes `name` itself (with indirect=True, for a fixture)."""
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        if name in ([n.strip() for n in names.split(",")] if isinstance(names, str) else names):
            return True
    return False


def needs_servers(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    on_postgresql = callspec is not None and callspec.params.get("db_url") == "postgresql"
    return on_postgresql or not SERVER_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist: hand out the modules in the order below
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if needs_servers(item):
            item.add_marker(pytest.mark.integration)
    items.sort(key=schedule_rank(items))


def schedule_rank(items: list[pytest.Item]) -> Callable[[pytest.Item], tuple[int, int]]:
    """The order in which pytest-xdist hands the modules to the workers: the restarts first, then the modules that
    need no server, then the modules marked `slow`, then the others, the larger first, the small ones filling the end.

    A restart waits for the tests that hold a turn on the servers to end, and meanwhile no other test takes one: the
    other workers spend that time on the tests that need no turn. The `slow` modules then go before the other
    integration modules, so that no worker is left alone with one at the end; one that holds a turn for all its
    tests, `slow(holds_a_turn=True)`, after the other slow ones."""
    sizes = Counter(module_of(item) for item in items)
    on_servers = {module_of(item) for item in items if item.get_closest_marker("integration")}

    def rank(item: pytest.Item) -> tuple[int, int]:
        if item.get_closest_marker("restarts_a_server"):
            return 0, 0
        if module_of(item) not in on_servers:
            return 1, -sizes[module_of(item)]
        if slow := item.get_closest_marker("slow"):
            return 2, int(slow.kwargs.get("holds_a_turn", False))
        return 3, -sizes[module_of(item)]

    return rank


def module_of(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


@pytest.fixture(scope="session")
def server_turns(tmp_path_factory: pytest.TempPathFactory) -> ServerTurns:
    run = tmp_path_factory.getbasetemp()
    return ServerTurns(run.parent if os.environ.get("PYTEST_XDIST_WORKER") else run)  # the run's, not the worker's


@pytest.fixture(autouse=True)
def server_turn(request: pytest.FixtureRequest, server_turns: ServerTurns) -> Iterator[None]:
    """An integration test's shared turn on the servers, for all its setup, run and teardown; a test that restarts
    RabbitMQ or PostgreSQL takes an exclusive turn for the restart itself."""
    if request.node.get_closest_marker("integration") is None or request.node.get_closest_marker("restarts_a_server"):
        yield
        return
    with server_turns.hold():
        yield


# --- PKI and schemas ------------------------------------------------------------


@pytest.fixture(scope="session")
def live_parties_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """config/parties.toml and the PULLERS."""
    pullers = "".join(f'\n[[party]]\nid = "{p}"\nname = "Pulling marketplace {p}"\nroles = ["marketplace"]\n' for p in PULLERS)
    path = tmp_path_factory.mktemp("live-parties") / "parties.toml"
    path.write_text((REPO / "config" / "parties.toml").read_text(encoding="utf-8") + pullers, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory, live_parties_file: Path) -> Path:
    """A CA (with its CRL, as `keys init` makes) and a key and certificate for every party of config/parties.toml and for the PULLERS."""
    directory = tmp_path_factory.mktemp("pki")
    init_pki(directory, [p.key_spec() for p in read_parties_file(live_parties_file, directory)])
    issue_crl(directory)
    return directory


@pytest.fixture(scope="session")
def identity(pki_dir: Path) -> Callable[[str], SigningIdentity]:
    cache: dict[str, SigningIdentity] = {}

    def load(party: str) -> SigningIdentity:
        if party not in cache:
            cache[party] = SigningIdentity.load(pki_dir / f"{party}.key.pem", pki_dir / f"{party}.cert.pem")
        return cache[party]

    return load


@pytest.fixture(scope="session")
def schemas() -> Callable[[Settings], SchemaRegistry]:
    """The compiled schema registry of a configuration's packs, compiled once per run (it is immutable).

    Keyed by the packs' paths: a test that needs another pack writes it to a path of its own.
    """
    cache: dict[tuple[Path, ...], SchemaRegistry] = {}

    def of(settings: Settings) -> SchemaRegistry:
        packs = tuple(settings.schema_packs)
        if packs not in cache:
            cache[packs] = SchemaRegistry.load(packs)
        return cache[packs]

    return of


# --- stores -------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url(server_turns: ServerTurns) -> Iterator[str]:
    """A PostgreSQL database of this test run's own (of this pytest-xdist worker's own).

    Made and dropped in a turn on the servers of its own: a session-scoped fixture is set up before the test's turn.
    """
    name = f"gwtest_{uuid.uuid4().hex[:12]}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with server_turns.hold(), psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield admin.rsplit("/", 1)[0] + f"/{name}"
    with server_turns.hold(), psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def store_templates(tmp_path_factory: pytest.TempPathFactory) -> StoreTemplates:
    return StoreTemplates(tmp_path_factory.mktemp("store-templates"))


@contextlib.contextmanager
def new_store(kind: str, directory: Path, request: pytest.FixtureRequest, empty: bool = False) -> Iterator[str]:
    """The URL of a store of `kind` ("sqlite" or "postgresql") of its own, at the schema's head (or `empty`)."""
    templates: StoreTemplates = request.getfixturevalue("store_templates")
    if kind == "sqlite":
        database = directory / "gateway.db"
        yield f"sqlite:///{database}" if empty else templates.sqlite(database)
        return
    database_url = request.getfixturevalue("postgres_url")
    with isolated_schema(database_url) as url:
        if not empty:
            templates.postgresql(url, database_url)
        yield url


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store of the test's own at the schema's head (empty for a test marked `empty_store`), on each store of the
    test's `stores` mark (see the rules above)."""
    empty = request.node.get_closest_marker("empty_store") is not None
    with new_store(request.param, tmp_path, request, empty) as url:
        yield url


@pytest.fixture
def queues() -> Iterator[Queues]:
    inspector = Queues()
    yield inspector
    inspector.close()


# --- settings, services, pipeline ---------------------------------------------


def new_namespace() -> str:
    return f"gwtest-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def namespace() -> str:
    return new_namespace()


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    return write_config(tmp_path / "config", pki_dir, namespace)


def settings_for(config_path: Path, db_url: str) -> Settings:
    return load_settings(config_path, environ={"GATEWAY_DB_URL": db_url, "GATEWAY_AMQP_URL": AMQP_URL})


@pytest.fixture
def settings(config_path: Path, db_url: str) -> Settings:
    return settings_for(config_path, db_url)


@contextlib.contextmanager
def assembled(settings: Settings, schemas: Callable[[Settings], SchemaRegistry]) -> Iterator[Assembly]:
    """The gateway's parts as `serve` wires them, with their broker topology; removed afterwards."""
    built = assemble(settings, sync_registry=True, schemas=schemas(settings))
    try:
        with contextlib.closing(connect(AMQP_URL)) as connection:
            built.services.topology.declare(connection.channel())
        yield built
    finally:
        built.close()
        # A fresh connection: a test may have restarted the broker in between.
        with contextlib.closing(connect(AMQP_URL)) as connection:
            built.services.topology.delete(connection.channel())


@pytest.fixture
def assembly(settings: Settings, schemas: Callable[[Settings], SchemaRegistry]) -> Iterator[Assembly]:
    """The gateway's parts as `serve` wires them, on the test's store and broker namespace."""
    with assembled(settings, schemas) as built:
        yield built


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


# --- live gateways ------------------------------------------------------------


@contextlib.contextmanager
def running_gateway(
    kind: str,
    directory: Path,
    pki_dir: Path,
    schemas: Callable[[Settings], SchemaRegistry],
    request: pytest.FixtureRequest,
    **sections: dict[str, object],
) -> Iterator[Live]:
    """`gateway serve` in a subprocess on a new store of `kind` and a broker namespace of its own (its topology
    declared), stopped and removed afterwards."""
    config = write_config(directory / "config", pki_dir, new_namespace(), **sections)
    with new_store(kind, directory, request) as url, assembled(settings_for(config, url), schemas) as built:
        gateway = LiveGateway(config, url, directory / "gateway.log").start()
        try:
            yield Live(gateway, built.services, config)
        finally:
            gateway.stop()


class LiveGateways:
    """`gateway serve` in a subprocess, one per store, started when a test first asks for it and stopped at the
    end of the run (of the pytest-xdist worker): the tests that only send to a gateway and look inside it share it.
    One that lived through a broker restart (its connections broken meanwhile) is replaced."""

    def __init__(
        self,
        directory: Path,
        pki_dir: Path,
        parties_file: Path,
        schemas: Callable[[Settings], SchemaRegistry],
        turns: ServerTurns,
    ) -> None:
        self.directory, self.pki_dir, self.parties_file, self.schemas, self.turns = (
            directory, pki_dir, parties_file, schemas, turns
        )
        self.running: dict[str, tuple[Live, int, contextlib.ExitStack]] = {}

    def get(self, kind: str, request: pytest.FixtureRequest) -> Live:
        if kind in self.running and self.running[kind][1] != self.turns.restarts():
            self.running.pop(kind)[2].close()
        if kind not in self.running:
            restarts = self.turns.restarts()
            with contextlib.ExitStack() as starting:
                live = starting.enter_context(
                    running_gateway(
                        kind,
                        self.directory / f"{kind}-{restarts}",
                        self.pki_dir,
                        self.schemas,
                        request,
                        registry={"parties": str(self.parties_file)},
                    )
                )
                self.running[kind] = (live, restarts, starting.pop_all())
        return self.running[kind][0]

    def close(self) -> None:
        while self.running:
            self.running.popitem()[1][2].close()


@pytest.fixture(scope="session")
def live_gateways(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,  # made before, so dropped after, the gateway on PostgreSQL
    pki_dir: Path,
    live_parties_file: Path,
    schemas: Callable[[Settings], SchemaRegistry],
    server_turns: ServerTurns,
) -> Iterator[LiveGateways]:
    gateways = LiveGateways(tmp_path_factory.mktemp("live"), pki_dir, live_parties_file, schemas, server_turns)
    yield gateways
    with server_turns.hold():
        gateways.close()


@pytest.fixture(params=STORES)
def live_gateway(request: pytest.FixtureRequest, live_gateways: LiveGateways) -> Live:
    """A running gateway on each store, shared with other tests (started in this test's turn on the broker).

    Tests must not count on an empty gateway: each uses message ids of its own, and a test that pulls, a party
    of its own (PULLERS).
    """
    return live_gateways.get(request.param, request)


@pytest.fixture
def gateway_on_each_store(
    request: pytest.FixtureRequest, tmp_path: Path, pki_dir: Path, schemas: Callable[[Settings], SchemaRegistry]
) -> Iterator[dict[str, Live]]:
    """A running gateway of the test's own on each store, for a test that does to both at once what others must
    not see (one broker restart for both stores)."""
    with contextlib.ExitStack() as stack:
        yield {kind: stack.enter_context(running_gateway(kind, tmp_path / kind, pki_dir, schemas, request)) for kind in STORES}


@pytest.fixture
def own_gateway(config_path: Path, db_url: str, tmp_path: Path, services: Services) -> Iterator[LiveGateway]:
    """A running gateway of the test's own, sharing `services`' store and broker namespace, for the tests that
    need their own configuration or do something to it that others must not see."""
    gateway = LiveGateway(config_path, db_url, tmp_path / "gateway.log").start()
    yield gateway
    gateway.stop()
