"""Creating the database engine: SQLite under var/ by default, PostgreSQL by URL.

`make_engine` creates an empty store at the schema's head revision and refuses
a store whose schema is behind (gateway.store.schema: Alembic migrations, which
create the tables of every layer, customs.state's included).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import structlog
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

log = structlog.get_logger(__name__)
T = TypeVar("T")


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs that name no driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, create_schema: bool = True) -> Engine:
    """An engine for `url`. `create_schema`: create an empty store, refuse one whose schema is not at head.

    Only `gateway db` opens a store without (to migrate it or say where it is).
    """
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
        from gateway.store.schema import ensure_current  # (schema.py migrates under this module's write lock)

        ensure_current(engine)
    return engine


class SqliteWriteLock:
    """Serialises write transactions on one SQLite file across the threads and processes of a host.

    SQLite admits one writer at a time and makes the others poll its lock, sleeping
    1, 2, 5, 10 ... 100 ms between tries; with several gunicorn processes writing,
    those sleeps dominate. Waiting on a thread lock, then on flock(2) on a file
    beside the database, wakes the next writer the moment the lock is free. (flock
    belongs to the open file, which the threads of a process share: hence both.)
    """

    def __init__(self, database: Path) -> None:
        self._path = database.with_name(database.name + ".write-lock")
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *_: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, contextlib.AbstractContextManager[object]] = weakref.WeakKeyDictionary()


def write_lock(engine: Engine) -> contextlib.AbstractContextManager[object]:
    lock = _WRITE_LOCKS.get(engine)
    if lock is None:
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database and database != ":memory:":
            lock = SqliteWriteLock(Path(database))
        else:
            lock = contextlib.nullcontext()
        _WRITE_LOCKS[engine] = lock
    return lock


def retrying_once(operation: Callable[[], T]) -> T:
    """Run a store operation; if its connection was dropped under it (the database restarted), run it once more.

    The pool's pre-ping renews a stale connection when one is taken, but a connection can also die while in
    use. The operation must be safe to repeat: an insert whose commit did reach the database before the
    connection died is found again by the repeat (the callers insert with ON CONFLICT DO NOTHING).
    """
    try:
        return operation()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("the store connection was lost; trying once more on a fresh one", error=str(exc.orig))
        return operation()


@contextlib.contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction: every write in the gateway goes through here (see `SqliteWriteLock`)."""
    with write_lock(engine), engine.begin() as connection:
        yield connection


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
