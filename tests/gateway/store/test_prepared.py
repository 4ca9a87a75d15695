"""Raw write transactions (gateway/store/prepared.py) on SQLite and PostgreSQL: the same rows as SQLAlchemy writes,
IN lists, converted results, rollback, and errors that say whether the connection was lost."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, String, bindparam, cast, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from gateway.store.engine import make_engine, writing
from gateway.store.prepared import raw_writing
from gateway.store.tables import purged_messages

WHEN = dt.datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=dt.UTC)
INSERT = insert(purged_messages).returning(purged_messages.c.sender, purged_messages.c.received_at)
BY_SENDERS = select(purged_messages.c.message_id, purged_messages.c.received_at).where(
    purged_messages.c.sender.in_(bindparam("senders", expanding=True))
).order_by(purged_messages.c.message_id)


def tombstone(sender: str, message_id: str, when: dt.datetime = WHEN) -> dict[str, object]:
    return {
        "sender": sender, "message_id": message_id, "document_type": "ECOM_ORDER", "digest": "d" * 64,
        "receipt_digest": "r" * 64, "received_at": when, "processed_at": None, "purged_at": when,
        "archive": "archive-2026-03.tar",
    }


def stored(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(purged_messages).order_by(purged_messages.c.message_id))]


def test_rows_written_raw_read_back_as_rows_written_by_sqlalchemy(engine: Engine) -> None:
    with raw_writing(engine) as tx:
        returned = tx.insert_returning(INSERT, [tombstone("A", "1"), tombstone("B", "2")]).all()
    with writing(engine) as connection:
        connection.execute(insert(purged_messages), [tombstone("C", "3")])

    rows = stored(engine)
    with engine.connect() as connection:  # as the database holds them
        held = connection.execute(select(cast(purged_messages.c.received_at, String))).scalars().all()
    assert len(held) == 3 and len(set(held)) == 1
    assert {row["received_at"].replace(tzinfo=dt.UTC) for row in rows} == {WHEN}  # type: ignore[union-attr]
    assert {row["processed_at"] for row in rows} == {None}
    assert [(sender, at.replace(tzinfo=dt.UTC)) for sender, at in returned] == [("A", WHEN), ("B", WHEN)]


def test_in_lists_expand_and_results_come_back_converted(engine: Engine) -> None:
    with raw_writing(engine) as tx:
        tx.insert_returning(INSERT, [tombstone(sender, sender.lower()) for sender in "ABCD"])
        found = tx.execute(BY_SENDERS, {"senders": ["B", "D", "Z"]}).all()
        one = tx.execute(BY_SENDERS, {"senders": ["C"]}).scalars()

    assert [message_id for message_id, _ in found] == ["b", "d"]
    assert all(isinstance(at, dt.datetime) and at.replace(tzinfo=dt.UTC) == WHEN for _, at in found)
    assert one == ["c"]


def test_an_error_rolls_the_whole_transaction_back_and_leaves_as_sqlalchemys(engine: Engine) -> None:
    with pytest.raises(IntegrityError), raw_writing(engine) as tx:
        tx.insert_returning(INSERT, [tombstone("A", "1")])
        tx.insert_returning(INSERT, [tombstone("A", "1")])  # the same primary key

    assert stored(engine) == []
    with raw_writing(engine) as tx:  # the pooled connection is usable again
        tx.insert_returning(INSERT, [tombstone("A", "1")])
    assert len(stored(engine)) == 1


def test_an_exception_in_the_block_rolls_back(engine: Engine) -> None:
    with pytest.raises(RuntimeError), raw_writing(engine) as tx:
        tx.insert_returning(INSERT, [tombstone("A", "1")])
        raise RuntimeError("the caller changed its mind")

    assert stored(engine) == []


@pytest.mark.stores("postgresql")
def test_a_connection_lost_mid_transaction_is_reported_as_invalidated_and_not_reused(engine: Engine) -> None:
    with raw_writing(engine) as tx:
        backend = tx.execute(select(text("pg_backend_pid()"))).scalars()[0]

    with pytest.raises(DBAPIError) as raised, raw_writing(engine) as tx:
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        tx.insert_returning(INSERT, [tombstone("A", "1")])

    assert raised.value.connection_invalidated
    with raw_writing(engine) as tx:  # a fresh connection
        tx.insert_returning(INSERT, [tombstone("A", "1")])
    assert len(stored(engine)) == 1


def test_an_unreachable_database_is_reported_as_sqlalchemys_error() -> None:
    unreachable = make_engine("postgresql://nobody@127.0.0.1:1/nothing", create_schema=False)
    try:
        with pytest.raises(DBAPIError), raw_writing(unreachable):
            pass
    finally:
        unreachable.dispose()
