"""Creating the database engine: SQLite under var/ by default, PostgreSQL by URL."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from gateway.store.tables import metadata


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs that name no driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, create_schema: bool = True) -> Engine:
    """An engine for `url`; creates the tables when they are missing."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
    if create_schema:
        metadata.create_all(engine)
    return engine


def write_lock(engine: Engine) -> contextlib.AbstractContextManager[object]:
    """A lock that serialises this process's write transactions on SQLite (a no-op elsewhere).

    SQLite admits one writer at a time and makes the others poll, sleeping between
    tries; threads of one process queue far better on a lock of their own.
    """
    return threading.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # The driver's own (legacy) transaction handling is switched off and SQLAlchemy
    # emits BEGIN itself, as the SQLAlchemy documentation recommends for pysqlite.
    # Write transactions in this package start with their write, so a deferred BEGIN
    # takes the write lock (waiting up to busy_timeout) before reading anything.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before the receipt goes out (WAL + NORMAL may lose the
    # last commits on power loss, which would break "nothing accepted is lost").
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection) -> None:  # type: ignore[no-untyped-def]
    connection.exec_driver_sql("BEGIN")
