"""GroupCommitter: concurrent request threads share one writer; results and failures reach every waiter."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import random
import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from support import wait_until

from gateway.store.engine import make_engine, writing
from gateway.store.group_commit import GroupCommitter
from gateway.store.messages import MessageStore, NewMessage, Recorded
from gateway.store.tables import messages

Factory = Callable[..., NewMessage]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ObservedStore(MessageStore):
    """The real store, noting the size of each batch the committer hands it."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.batches: list[int] = []
        self.entered = threading.Event()

    def record_many(self, batch):  # type: ignore[no-untyped-def]
        self.batches.append(len(batch))
        self.entered.set()
        return super().record_many(batch)


@pytest.fixture
def observed(engine: Engine) -> ObservedStore:
    return ObservedStore(engine)


@pytest.fixture
def committer(observed: ObservedStore) -> Iterator[GroupCommitter]:
    before = set(threading.enumerate())
    built = GroupCommitter(observed)
    (writer,) = set(threading.enumerate()) - before
    yield built
    built.close()
    writer.join(5)
    assert not writer.is_alive()


def record_concurrently(committer: GroupCommitter, news: list[NewMessage]) -> list[Recorded | BaseException]:
    """Record each message from a thread of its own, all released together; results in `news` order."""
    results: list[Recorded | BaseException | None] = [None] * len(news)
    barrier = threading.Barrier(len(news))

    def record(index: int) -> None:
        barrier.wait(10)
        try:
            results[index] = committer.record(news[index], now())
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            results[index] = exc

    threads = [threading.Thread(target=record, args=(i,)) for i in range(len(news))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "a waiter never got an answer"
    return results  # type: ignore[return-value]


@contextlib.contextmanager
def writes_held(engine: Engine) -> Iterator[object]:
    """Hold the store's write path so that the committer's writer blocks and requests pile up behind it."""
    if engine.dialect.name == "sqlite":
        with writing(engine) as tx:  # holds the SqliteWriteLock that every write takes
            yield tx
    else:
        with engine.begin() as tx:
            tx.exec_driver_sql("LOCK TABLE messages IN EXCLUSIVE MODE")  # blocks INSERT until commit
            yield tx


def queued(committer: GroupCommitter) -> int:
    return committer._queue.qsize()  # white-box: how many requests wait for the writer


def start_piled_up(
    committer: GroupCommitter, observed: ObservedStore, news: list[NewMessage], record: Callable[[int], None]
) -> list[threading.Thread]:
    """With writes held: the first message blocks the writer, the others then queue up behind it."""
    first = threading.Thread(target=record, args=(0,))
    first.start()
    assert observed.entered.wait(10), "the writer never took the first message"
    others = [threading.Thread(target=record, args=(i,)) for i in range(1, len(news))]
    for thread in others:
        thread.start()
    wait_until(lambda: queued(committer) == len(news) - 1, timeout=10, interval=0.02)
    return [first, *others]


def test_many_threads_get_the_right_outcome(
    committer: GroupCommitter, store: MessageStore, make_message: Factory
) -> None:
    """For each id: two byte-identical copies and one with other bytes, all racing.

    Whichever copy is first becomes the stored one; every other copy must be told
    "duplicate" (with the stored receipt) when its bytes match and "conflict" otherwise.
    """
    originals = [make_message() for _ in range(20)]
    news = []
    for original in originals:
        news.append(original)
        news.append(
            dataclasses.replace(original, receipt=b"<Receipt>copy " + original.message_id.encode() + b"</Receipt>")
        )
        news.append(
            make_message(
                message_id=original.message_id, body=b"<Envelope>other " + original.message_id.encode() + b"</Envelope>"
            )
        )
    news.extend(make_message() for _ in range(20))  # messages that nothing else touches
    random.Random(7).shuffle(news)

    results = record_concurrently(committer, news)

    assert not [r for r in results if isinstance(r, BaseException)]
    with store.engine.connect() as connection:
        rows = {
            row.message_id: row
            for row in connection.execute(
                select(messages.c.id, messages.c.message_id, messages.c.digest, messages.c.receipt)
            )
        }
    assert len(rows) == 40
    winners: dict[str, int] = {}
    for new, result in zip(news, results, strict=True):
        stored = rows[new.message_id]
        assert isinstance(result, Recorded) and result.pk == stored.id
        if result.new and not result.conflict:
            winners[new.message_id] = winners.get(new.message_id, 0) + 1
            assert (new.digest, new.receipt) == (stored.digest, stored.receipt)
        elif new.digest == stored.digest:
            assert result == Recorded(stored.id, stored.receipt), "an identical resend gets the stored receipt"
        else:
            assert result.conflict and result.receipt is None
    assert winners == {message_id: 1 for message_id in rows}, "exactly one copy of each id is new"


def test_requests_that_wait_together_are_committed_together(
    committer: GroupCommitter, observed: ObservedStore, engine: Engine, make_message: Factory
) -> None:
    news = [make_message() for _ in range(30)]
    results: dict[int, Recorded] = {}

    def record(index: int) -> None:
        results[index] = committer.record(news[index], now())

    with writes_held(engine):
        threads = start_piled_up(committer, observed, news, record)
    for thread in threads:
        thread.join(30)

    assert observed.batches == [1, 29], "the 29 that waited behind the first go in one batch"
    assert sorted(results) == list(range(30)) and all(r.new for r in results.values())
    stored = {m.message_id: m.pk for m in observed.awaiting_publication(now() + dt.timedelta(seconds=1), 100)}
    assert {news[i].message_id: r.pk for i, r in results.items()} == stored


def test_a_store_failure_reaches_every_waiter_and_the_writer_survives(
    committer: GroupCommitter, observed: ObservedStore, engine: Engine, make_message: Factory
) -> None:
    news = [make_message() for _ in range(12)]
    outcomes: dict[int, Recorded | BaseException] = {}

    def record(index: int) -> None:
        try:
            outcomes[index] = committer.record(news[index], now())
        except BaseException as exc:  # noqa: BLE001
            outcomes[index] = exc

    with writes_held(engine) as tx:
        threads = start_piled_up(committer, observed, news, record)
        # the store breaks while they all wait: the messages table is gone (renamed away)
        tx.exec_driver_sql("ALTER TABLE messages RENAME TO messages_away")  # type: ignore[attr-defined]
    for thread in threads:
        thread.join(30)

    assert observed.batches == [1, 11], "the failure hit one lone batch and one shared batch"
    assert sorted(outcomes) == list(range(len(news)))
    failures = [outcomes[i] for i in range(len(news))]
    assert all(isinstance(f, SQLAlchemyError) for f in failures), failures
    assert all("messages" in str(f) for f in failures)

    with writing(engine) as tx:  # the store is back
        tx.exec_driver_sql("ALTER TABLE messages_away RENAME TO messages")
    later = committer.record(make_message(), now())
    assert later.new


def test_an_unreachable_database_fails_every_waiter(make_message: Factory) -> None:
    unreachable = make_engine("postgresql://nobody@127.0.0.1:1/nothing", create_schema=False)
    committer = GroupCommitter(MessageStore(unreachable))
    try:
        results = record_concurrently(committer, [make_message() for _ in range(8)])
    finally:
        committer.close()
        unreachable.dispose()

    assert all(isinstance(r, SQLAlchemyError) for r in results), results


def test_close_finishes_what_is_waiting_then_stops_the_writer(
    observed: ObservedStore, engine: Engine, make_message: Factory
) -> None:
    before = set(threading.enumerate())
    committer = GroupCommitter(observed)
    (writer,) = set(threading.enumerate()) - before
    news = [make_message() for _ in range(5)]
    results: dict[int, Recorded] = {}

    def record(index: int) -> None:
        results[index] = committer.record(news[index], now())

    with writes_held(engine):
        threads = start_piled_up(committer, observed, news, record)
        closer = threading.Thread(target=committer.close)
        closer.start()
        wait_until(lambda: queued(committer) == len(news), timeout=10, interval=0.02)  # the stop is queued last
    closer.join(15)
    for thread in threads:
        thread.join(15)

    assert not closer.is_alive() and not writer.is_alive()
    assert observed.batches == [1, 4]
    assert sorted(results) == list(range(5)) and all(r.new for r in results.values())


def test_close_of_an_idle_committer_is_prompt(store: MessageStore) -> None:
    before = set(threading.enumerate())
    committer = GroupCommitter(store)
    (writer,) = set(threading.enumerate()) - before
    assert writer.is_alive()

    committer.close()

    assert not writer.is_alive()
