"""The store's schema, kept by the Alembic migrations shipped in gateway/store/migrations/versions/.

A fresh (empty) store is created by running every migration. A store whose schema is behind the code
(an older revision, or tables made by `create_all` before migrations existed) is refused until an
operator runs `gateway db upgrade`: a process never alters the schema under instances still running
the previous release. Migrating takes a lock (an advisory lock on PostgreSQL, the store's write lock on
SQLite) and runs in one transaction, so two processes starting on a fresh store do not both create it,
and an interrupted upgrade leaves the schema as it was.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, MetaData, inspect, text

from gateway.exceptions import ConfigurationError
from gateway.store.engine import writing

MIGRATIONS = Path(__file__).with_name("migrations")
# The schema of the last release made with `create_all`: a store with tables and no version is at it.
BASELINE = "0001_baseline"
# Alembic narrates each step on the standard logger; `gateway db` says what it did in one line instead.
logging.getLogger("alembic").setLevel(logging.WARNING)


class SchemaMismatch(ConfigurationError):
    """The store's schema is not the one this code needs; the message says what to do."""


def config(connection: Connection | None = None, metadata: MetaData | None = None) -> Config:
    """Alembic's configuration for the package's migrations, run on `connection` (see migrations/env.py)."""
    alembic_config = Config()
    alembic_config.set_main_option("script_location", str(MIGRATIONS))
    alembic_config.attributes["connection"] = connection
    alembic_config.attributes["metadata"] = metadata
    return alembic_config


@functools.cache
def head() -> str:
    """The revision this code needs."""
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None, "the package ships no migration"
    return revision


def revision(connection: Connection) -> str | None:
    """The store's revision: BASELINE for a store made before migrations, None for an empty store."""
    current = stamped(connection)
    if current is None and inspect(connection).has_table("messages"):
        return BASELINE
    return current


def stamped(connection: Connection) -> str | None:
    """The revision recorded in the store (None before migrations existed, or for an empty store)."""
    return MigrationContext.configure(connection).get_current_revision()


def ensure_current(engine: Engine) -> None:
    """Create an empty store at head; refuse (SchemaMismatch) a store whose schema is not at head.

    A store made before migrations is refused even when its tables are those of head: `gateway db upgrade`
    records its revision first.
    """
    with engine.connect() as connection:
        current, recorded = revision(connection), stamped(connection)
    if recorded == head():
        return
    if current is not None:
        raise _mismatch(current, recorded)
    _migrate(engine, only_if_empty=True)


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the store to head (`gateway db upgrade`): (the revision it was at, the revision it is at)."""
    return _migrate(engine, only_if_empty=False)


def _migrate(engine: Engine, only_if_empty: bool) -> tuple[str | None, str]:
    with writing(engine) as connection:
        if connection.dialect.name == "postgresql":
            # One migrator per schema at a time; the lock is released with the transaction.
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('gateway-schema:' || current_schema()))"))
        before, recorded = revision(connection), stamped(connection)
        if recorded == head():
            return before, before
        if only_if_empty and before is not None:
            raise _mismatch(before, recorded)
        alembic_config = config(connection)
        try:
            if before == BASELINE and recorded is None:
                command.stamp(alembic_config, BASELINE)
            command.upgrade(alembic_config, "head")
        except CommandError as exc:
            raise _mismatch(before or "?", recorded) from exc
    return before, head()


def _mismatch(current: str, recorded: str | None) -> SchemaMismatch:
    if recorded is None:
        return SchemaMismatch(
            f"the store was made before schema migrations (revision {current}): run `gateway db upgrade`"
        )
    known = {script.revision for script in ScriptDirectory.from_config(config()).walk_revisions()}
    if current in known:
        return SchemaMismatch(
            f"the store's schema is at revision {current}, behind this gateway's {head()}: run `gateway db upgrade`"
        )
    return SchemaMismatch(
        f"the store's schema is at revision {current}, which this gateway does not know (a newer release made it?); "
        f"this gateway needs {head()}"
    )
