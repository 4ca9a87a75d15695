"""The message lifecycle: the transition tables, and `transition` on SQLite and PostgreSQL.

Rows are put into each state directly (arranging, not moving), then every move of
every state to every state is tried: the legal ones move and write one history row,
the others change nothing and write nothing.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event, func, insert, select

from gateway.lifecycle import (
    INBOUND,
    LIFECYCLES,
    OUTBOUND,
    Lifecycle,
    MessageStatus,
    OutboundStatus,
    entered,
    history,
    transition,
    transition_many,
)
from gateway.store.engine import make_engine, writing
from gateway.store.tables import message_history, outbox

T0 = dt.datetime(2026, 3, 1, 8, 0, 0, tzinfo=dt.UTC)

# The specification, written out: (from, to) for every allowed move.
INBOUND_MOVES = {
    ("accepted", "queued"),
    ("accepted", "processed"),
    ("accepted", "failed"),
    ("queued", "processed"),
    ("queued", "failed"),
    ("failed", "processed"),
    ("failed", "accepted"),
}
OUTBOUND_MOVES = {
    ("pending", "delivered"),
    ("pending", "parked"),
    ("parked", "pending"),
    ("parked", "delivered"),
}
EXPECTED = {"inbound": INBOUND_MOVES, "outbound": OUTBOUND_MOVES}


# --- the tables ---------------------------------------------------------------------------


@pytest.mark.parametrize("lifecycle", [INBOUND, OUTBOUND], ids=["inbound", "outbound"])
def test_the_moves_are_the_specified_ones(lifecycle: Lifecycle) -> None:
    allowed = {(a, b) for a in lifecycle.states for b in lifecycle.states if lifecycle.allows(a, b)}
    assert allowed == EXPECTED[lifecycle.kind]


def test_the_states_are_the_enums_and_the_final_states_have_no_exits() -> None:
    assert INBOUND.states == tuple(MessageStatus) and OUTBOUND.states == tuple(OutboundStatus)
    assert INBOUND.final == {"processed"} and OUTBOUND.final == {"delivered"}
    for lifecycle in LIFECYCLES.values():
        for final in lifecycle.final:
            assert not any(lifecycle.allows(final, to) for to in lifecycle.states)


@pytest.mark.parametrize("lifecycle", [INBOUND, OUTBOUND], ids=["inbound", "outbound"])
def test_every_state_is_reachable_from_the_first_and_can_reach_a_final_one(lifecycle: Lifecycle) -> None:
    def reachable(start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            state = todo.pop()
            for to in lifecycle.states:
                if lifecycle.allows(state, to) and to not in seen:
                    seen.add(to)
                    todo.append(to)
        return seen

    assert reachable(lifecycle.initial) == set(lifecycle.states)
    assert all(reachable(state) & lifecycle.final for state in lifecycle.states)


def test_a_state_that_is_not_the_lifecycles_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a state of inbound"):
        INBOUND.sources("delivered")


# --- moving, on both stores -----------------------------------------------------------------


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    built = make_engine(db_url)
    yield built
    built.dispose()


def new_row(lifecycle: Lifecycle) -> dict[str, object]:
    """The columns of a fresh row of the lifecycle's table, but its status."""
    key = str(uuid.uuid4())
    if lifecycle is INBOUND:
        return {
            "sender": "0101234567", "message_id": key, "recipient": "VNECOMGW", "document_type": "ECOM_ORDER",
            "function": "01", "correlation_id": key, "door": "http", "digest": "00" * 32, "body": b"<E/>",
            "receipt": b"<R/>", "route": "orders", "attempts": 0, "received_at": T0,
        }
    return {
        "message_id": key, "recipient": "0101234567", "document_type": "RESULT_NOTICE", "function": "23",
        "correlation_id": key, "body": b"<E/>", "created_at": T0, "attempts": 0,
    }


def put(engine: Engine, lifecycle: Lifecycle, status: str) -> int:
    """A row in `status`, inserted as it is (arranging a test, not moving a message)."""
    statement = insert(lifecycle.table).values({**new_row(lifecycle), "status": status}).returning(lifecycle.table.c.id)
    with writing(engine) as tx:
        return tx.execute(statement).scalar_one()


def status_of(engine: Engine, lifecycle: Lifecycle, pk: int) -> str:
    with engine.connect() as connection:
        return connection.execute(select(lifecycle.table.c.status).where(lifecycle.table.c.id == pk)).scalar_one()


def steps(engine: Engine, lifecycle: Lifecycle, pk: int) -> list[tuple[str | None, str, str, str | None]]:
    with engine.connect() as connection:
        return [(s.from_status, s.to_status, s.actor, s.reason) for s in history(connection, lifecycle, pk)]


@pytest.mark.integration
@pytest.mark.parametrize("lifecycle", [INBOUND, OUTBOUND], ids=["inbound", "outbound"])
def test_every_legal_move_is_made_and_recorded_and_every_other_is_refused(engine: Engine, lifecycle: Lifecycle) -> None:
    wrong = []
    for source in lifecycle.states:
        for target in lifecycle.states:
            pk = put(engine, lifecycle, source)
            with writing(engine) as tx:
                moved = transition(tx, lifecycle, pk, target, actor="test", at=T0, reason=f"{source} to {target}")
            legal = (source, target) in EXPECTED[lifecycle.kind]
            after = status_of(engine, lifecycle, pk)
            recorded = steps(engine, lifecycle, pk)
            expected = [(source, target, "test", f"{source} to {target}")] if legal else []
            if moved != legal or after != (target if legal else source) or recorded != expected:
                wrong.append((source, target, moved, after, recorded))
    assert wrong == []


@pytest.mark.integration
def test_a_move_sets_its_values_with_the_status(engine: Engine) -> None:
    pk = put(engine, OUTBOUND, "parked")
    with writing(engine) as tx:
        tx.execute(outbox.update().where(outbox.c.id == pk).values(attempts=5, published_at=T0))

    with writing(engine) as tx:
        assert transition(
            tx, OUTBOUND, pk, OutboundStatus.PENDING, actor="operator:alice", at=T0, reason="partner is back",
            values={"attempts": 0, "published_at": None},
        )

    with engine.connect() as connection:
        row = connection.execute(select(outbox).where(outbox.c.id == pk)).one()
    assert (row.status, row.attempts, row.published_at) == ("pending", 0, None)
    assert steps(engine, OUTBOUND, pk) == [("parked", "pending", "operator:alice", "partner is back")]


@pytest.mark.integration
def test_a_move_rolled_back_with_its_transaction_leaves_no_history(engine: Engine) -> None:
    pk = put(engine, INBOUND, "queued")

    with pytest.raises(RuntimeError), writing(engine) as tx:
        assert transition(tx, INBOUND, pk, MessageStatus.PROCESSED, actor="worker", at=T0)
        raise RuntimeError("the handler's transaction failed after the move")

    assert status_of(engine, INBOUND, pk) == "queued" and steps(engine, INBOUND, pk) == []


@pytest.mark.integration
def test_a_batch_moves_those_that_may_move_in_two_statements(engine: Engine) -> None:
    accepted = [put(engine, INBOUND, "accepted") for _ in range(5)]
    others = [put(engine, INBOUND, state) for state in ("queued", "processed", "failed")]
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with writing(engine) as tx:
            moved = transition_many(
                tx, INBOUND, [*others, *accepted, accepted[0]], MessageStatus.QUEUED, actor="http", at=T0,
                values={"queued_at": T0},
            )
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert sorted(moved) == sorted(accepted)
    assert len(statements) == 2, statements  # one UPDATE ... RETURNING, one INSERT of the history rows
    assert [status_of(engine, INBOUND, pk) for pk in others] == ["queued", "processed", "failed"]
    assert all(steps(engine, INBOUND, pk) == [("accepted", "queued", "http", None)] for pk in accepted)
    assert all(steps(engine, INBOUND, pk) == [] for pk in others)


@pytest.mark.integration
def test_a_batch_with_several_sources_records_where_each_came_from(engine: Engine) -> None:
    pending, parked, delivered = (put(engine, OUTBOUND, state) for state in ("pending", "parked", "delivered"))

    with writing(engine) as tx:
        moved = transition_many(
            tx, OUTBOUND, [pending, parked, delivered], "delivered", actor="pull", at=T0, reason="ack"
        )

    assert sorted(moved) == sorted([pending, parked])
    assert steps(engine, OUTBOUND, pending) == [("pending", "delivered", "pull", "ack")]
    assert steps(engine, OUTBOUND, parked) == [("parked", "delivered", "pull", "ack")]
    assert steps(engine, OUTBOUND, delivered) == []


@pytest.mark.integration
def test_racing_moves_of_one_message_move_it_once(engine: Engine) -> None:
    pk = put(engine, INBOUND, "accepted")
    racers = 4
    start = threading.Barrier(racers)
    results: list[bool] = []

    def race(n: int) -> None:
        start.wait()
        with writing(engine) as tx:
            results.append(transition(tx, INBOUND, pk, MessageStatus.QUEUED, actor=f"racer-{n}", at=T0))

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(results) == [False] * (racers - 1) + [True]
    assert len(steps(engine, INBOUND, pk)) == 1


@pytest.mark.integration
def test_entered_and_history_give_the_moves_in_order_with_aware_times(engine: Engine) -> None:
    pk = put(engine, OUTBOUND, "pending")
    later = T0 + dt.timedelta(seconds=3)
    with writing(engine) as tx:
        entered(tx, OUTBOUND, [pk], actor="worker", at=T0)
        transition(tx, OUTBOUND, pk, "parked", actor="delivery", at=later, reason="x" * 5000)

    with engine.connect() as connection:
        first, second = history(connection, OUTBOUND, pk)
        inbound_rows = connection.execute(
            select(func.count()).select_from(message_history).where(message_history.c.kind == "inbound")
        ).scalar_one()
    assert (first.from_status, first.to_status, first.actor, first.at) == (None, "pending", "worker", T0)
    assert (second.from_status, second.to_status, second.at) == ("pending", "parked", later)
    assert second.reason == "x" * 4000  # clipped, like last_error
    assert inbound_rows == 0  # an outbound row's history is not an inbound message's of the same number


@pytest.mark.integration
def test_a_move_without_actor_or_that_sets_the_status_itself_is_an_error(engine: Engine) -> None:
    pk = put(engine, INBOUND, "accepted")
    with writing(engine) as tx:
        with pytest.raises(ValueError, match="actor"):
            transition(tx, INBOUND, pk, "queued", actor="", at=T0)
        with pytest.raises(ValueError, match="status"):
            transition(tx, INBOUND, pk, "queued", actor="relay", at=T0, values={"status": "processed"})
    assert status_of(engine, INBOUND, pk) == "accepted"


@pytest.mark.integration
@pytest.mark.parametrize("lifecycle", [INBOUND, OUTBOUND], ids=["inbound", "outbound"])
def test_a_new_row_gets_the_lifecycles_initial_status(engine: Engine, lifecycle: Lifecycle) -> None:
    statement = lifecycle.with_initial_status(insert(lifecycle.table)).values(new_row(lifecycle))
    with writing(engine) as tx:
        pk = tx.execute(statement.returning(lifecycle.table.c.id)).scalar_one()

    assert status_of(engine, lifecycle, pk) == lifecycle.initial


@pytest.mark.integration
def test_a_move_waiting_on_another_moves_from_the_state_the_other_left(engine: Engine) -> None:
    """queued is tried before accepted: a message moving accepted -> queued meanwhile must still be processed."""
    pk = put(engine, INBOUND, "accepted")
    outcome: list[bool] = []

    def process() -> None:
        with writing(engine) as tx:
            outcome.append(transition(tx, INBOUND, pk, MessageStatus.PROCESSED, actor="worker", at=T0))

    with writing(engine) as confirming:
        assert transition(confirming, INBOUND, pk, MessageStatus.QUEUED, actor="http", at=T0)
        worker = threading.Thread(target=process)
        worker.start()
        worker.join(0.5)  # it waits for the confirming transaction
        assert worker.is_alive()
    worker.join(30)

    assert outcome == [True]
    assert [(step[0], step[1]) for step in steps(engine, INBOUND, pk)] == [("accepted", "queued"), ("queued", "processed")]
