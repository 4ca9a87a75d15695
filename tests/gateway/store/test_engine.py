"""The store's engine: URL normalisation and the SQLite write lock across processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select, update
from sqlalchemy.engine import make_url

from gateway.store.engine import SqliteWriteLock, make_engine, normalise_url, writing

INCREMENTS = 200

_counter_metadata = MetaData()
counter = Table(
    "counter",
    _counter_metadata,
    Column("id", Integer, primary_key=True),
    Column("value", Integer, nullable=False),
)


# --- normalise_url ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://gw:secret@db.example:5432/gateway", "postgresql+psycopg://gw:secret@db.example:5432/gateway"),
        ("postgres://gw@db/gateway", "postgresql+psycopg://gw@db/gateway"),
        ("postgresql://gw@db/gateway?sslmode=require", "postgresql+psycopg://gw@db/gateway?sslmode=require"),
        # a driver that was named explicitly is kept
        ("postgresql+psycopg2://gw@db/gateway", "postgresql+psycopg2://gw@db/gateway"),
        ("postgresql+psycopg://gw@db/gateway", "postgresql+psycopg://gw@db/gateway"),
        ("sqlite:////var/lib/gateway/gateway.db", "sqlite:////var/lib/gateway/gateway.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_normalise_url(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


def test_normalise_url_keeps_a_password_with_special_characters() -> None:
    url = "postgresql://gw:p%40ss%2Fw0rd@db/gateway"

    normalised = make_url(normalise_url(url))

    assert normalised.drivername == "postgresql+psycopg"
    assert normalised.password == "p@ss/w0rd"


def test_make_engine_uses_psycopg_for_a_plain_postgresql_url(postgres_url: str) -> None:
    assert make_url(postgres_url).drivername == "postgresql"  # the fixture names no driver
    engine = make_engine(postgres_url)
    try:
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as connection:
            assert connection.exec_driver_sql("select 1").scalar() == 1
    finally:
        engine.dispose()


# --- the SQLite write lock across processes -----------------------------------


def _increment(database: str, times: int, start: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    """Run in a spawned process: read-modify-write the counter `times` times, each in `writing`."""
    engine = make_engine(f"sqlite:///{database}", create_schema=False)
    start.wait(30)
    try:
        for _ in range(times):
            with writing(engine) as tx:
                value = tx.execute(select(counter.c.value).where(counter.c.id == 1)).scalar_one()
                tx.execute(update(counter).where(counter.c.id == 1).values(value=value + 1))
    finally:
        engine.dispose()


def test_write_lock_serialises_read_modify_write_across_processes(tmp_path: Path) -> None:
    database = tmp_path / "gateway.db"
    engine = make_engine(f"sqlite:///{database}")
    _counter_metadata.create_all(engine)
    with writing(engine) as tx:
        tx.execute(counter.insert().values(id=1, value=0))

    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_increment, args=(str(database), INCREMENTS, start)) for _ in range(2)]
    for worker in workers:
        worker.start()
    start.set()  # both begin together, so their transactions really interleave
    for worker in workers:
        worker.join(timeout=120)
    try:
        assert [w.exitcode for w in workers] == [0, 0], "a process failed (see its traceback above)"
        with engine.connect() as connection:
            assert connection.execute(select(counter.c.value)).scalar_one() == 2 * INCREMENTS
        assert (tmp_path / "gateway.db.write-lock").exists()
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
        engine.dispose()


def test_write_lock_excludes_a_second_holder_until_released(tmp_path: Path) -> None:
    """Two lock objects on one file (as in two processes): the second waits for the first."""
    import threading

    first, second = SqliteWriteLock(tmp_path / "x.db"), SqliteWriteLock(tmp_path / "x.db")
    entered = threading.Event()

    def take_second() -> None:
        with second:
            entered.set()

    with first:
        thread = threading.Thread(target=take_second)
        thread.start()
        assert not entered.wait(0.3), "the second holder got the lock while the first held it"
    assert entered.wait(5), "the second holder never got the lock after it was released"
    thread.join(5)
