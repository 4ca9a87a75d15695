"""The gateway a benchmark measures: its own store, configuration and broker namespace, removed afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.wiring import assemble
from gateway.broker.connection import connect
from gateway.config import Settings, load_settings, write_config
from gateway.exceptions import ConfigurationError


def require_keys(settings: Settings, party: str) -> None:
    if not settings.party_key(party).exists():
        raise ConfigurationError(f"no development key for {party} in {settings.pki_dir}: run `gateway keys init` first")


@contextmanager
def bench_store(url: str | None, directory: Path) -> Iterator[str]:
    """The benchmarked gateway's store: SQLite under `directory`, or a database of its own on `url`'s server."""
    if not url:
        yield f"sqlite:///{directory / 'var' / 'gateway.db'}"
        return
    if not url.startswith("postgresql"):
        raise ConfigurationError(f"--db takes a PostgreSQL URL (postgresql+psycopg://...), not {url!r}")
    name = f"gateway_bench_{uuid.uuid4().hex[:8]}"
    server = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def bench_config(settings: Settings, directory: Path, db_url: str, **http: object) -> tuple[Settings, Path]:
    """The benchmarked gateway's own configuration: a fresh store and broker namespace, the same PKI and rules."""
    path = write_config(
        directory / "gateway.toml",
        {
            "gateway": settings.gateway.__dict__,
            "paths": {"var": str(directory / "var"), "pki": str(settings.pki_dir)},
            "http": {**settings.http.__dict__, "bind": "127.0.0.1:0", **http},
            "broker": {"namespace": f"bench-{uuid.uuid4().hex[:8]}"},
            "trust": {"anchors": [str(p) for p in settings.trust_anchors]},
            "registry": {"parties": str(settings.parties_file), "routes": str(settings.routes_file),
                         "partners": str(settings.partners_file), "business": str(settings.business_file),
                         "risk": str(settings.risk_file)},
            "schemas": {"packs": [str(p) for p in settings.schema_packs]},
            "logging": {"format": "json", "level": "warning"},
        },
    )
    return load_settings(path, {**os.environ, "GATEWAY_DB_URL": db_url}), path


def remove_topology(settings: Settings) -> None:
    services = assemble(settings).services
    try:
        connection = connect(settings.broker.url)
        services.topology.delete(connection.channel())
        connection.close()
    finally:
        services.close()
