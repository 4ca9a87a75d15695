"""MessageStore on SQLite and PostgreSQL: recording, resends, conflicts, the outbox query, status changes, reports."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import IntegrityError

from gateway.errors import ErrorCode, Problem
from gateway.lifecycle import INBOUND, MessageStatus, transition
from gateway.store.engine import writing
from gateway.store.messages import MessageStore, NewMessage, Recorded
from gateway.store.tables import message_history, messages, rejections

Factory = Callable[..., NewMessage]
UTC = dt.UTC
T0 = dt.datetime(2025, 3, 1, 8, 0, 0, tzinfo=UTC)


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


def row_of(engine: Engine, pk: int) -> dict:
    with engine.connect() as connection:
        return dict(connection.execute(select(messages).where(messages.c.id == pk)).one()._mapping)


def message_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return len(connection.execute(select(messages.c.id)).all())


def connections_taken_during(engine: Engine, action: Callable[[], object]) -> tuple[object, int]:
    """Run `action`, counting the connections it took from `engine`'s pool (whether through SQLAlchemy or raw)."""
    count = 0

    def on_checkout(*_: object) -> None:
        nonlocal count
        count += 1

    event.listen(engine, "checkout", on_checkout)
    try:
        result = action()
    finally:
        event.remove(engine, "checkout", on_checkout)
    return result, count


# --- recording ----------------------------------------------------------------


def test_record_stores_a_new_message_exactly(store: MessageStore, engine: Engine, make_message: Factory) -> None:
    new = make_message()
    received_at = now()

    recorded = store.record(new, received_at)

    assert recorded.new and not recorded.conflict
    assert isinstance(recorded.pk, int) and recorded.receipt is None
    stored = store.get(new.sender, new.message_id)
    assert stored is not None
    assert (stored.pk, stored.sender, stored.message_id, stored.document_type, stored.function) == (
        recorded.pk,
        new.sender,
        new.message_id,
        new.document_type,
        new.function,
    )
    assert stored.body == new.body  # the exact bytes, NUL and 0xFF included
    assert (stored.digest, stored.route, stored.correlation_id) == (new.digest, new.route, new.correlation_id)
    assert stored.status == MessageStatus.ACCEPTED.value
    row = row_of(engine, recorded.pk)
    assert row["receipt"] == new.receipt and row["attempts"] == 0
    assert row["reference"] == new.reference and row["pre_reference"] is None and row["recipient"] == "VNECOMGW"
    assert row["queued_at"] is None and row["processed_at"] is None and row["last_error"] is None
    assert row["received_at"].replace(tzinfo=UTC) == received_at  # SQLite hands it back naive (UTC)


def test_get_unknown_message_is_none(store: MessageStore, make_message: Factory) -> None:
    new = make_message()
    store.record(new, now())

    assert store.get(new.sender, "00000000-0000-4000-8000-000000000000") is None
    assert store.get("someone-else", new.message_id) is None


def test_identical_resend_returns_the_original_receipt(
    store: MessageStore, engine: Engine, make_message: Factory
) -> None:
    first = make_message()
    original = store.record(first, now())
    # the resend carries the same bytes; intake built a new receipt for it, which must not be used
    resend = dataclasses.replace(first, receipt=b"<Receipt>a newer one</Receipt>", correlation_id="other")

    again = store.record(resend, now())

    assert again == Recorded(original.pk, first.receipt)
    assert not again.new and not again.conflict
    assert message_rows(engine) == 1
    assert row_of(engine, original.pk)["receipt"] == first.receipt


def test_same_id_with_other_content_is_a_conflict(store: MessageStore, engine: Engine, make_message: Factory) -> None:
    first = make_message()
    original = store.record(first, now())
    other = make_message(message_id=first.message_id, body=first.body + b" changed")

    result = store.record(other, now())

    assert result.conflict
    assert result.pk == original.pk and result.receipt is None
    stored = store.get(first.sender, first.message_id)
    assert stored is not None and stored.body == first.body and stored.digest == first.digest
    assert message_rows(engine) == 1


def test_a_conflict_is_not_new(store: MessageStore, make_message: Factory) -> None:
    first = make_message()
    store.record(first, now())

    result = store.record(make_message(message_id=first.message_id, body=b"<Envelope>other</Envelope>"), now())

    assert result.conflict
    assert not result.new


def test_the_same_message_id_from_two_senders_is_two_messages(store: MessageStore, make_message: Factory) -> None:
    first = make_message(sender="0101234567")
    second = make_message(sender="0309876543", message_id=first.message_id)

    a, b = store.record(first, now()), store.record(second, now())

    assert a.new and b.new and a.pk != b.pk


def test_record_many_in_one_transaction_sorts_out_duplicates(
    store: MessageStore, engine: Engine, make_message: Factory
) -> None:
    stored_before = make_message()
    before = store.record(stored_before, now())
    fresh_a, fresh_b = make_message(), make_message()
    batch = [
        fresh_a,
        dataclasses.replace(stored_before, receipt=b"<Receipt>resend</Receipt>"),  # identical to a stored one
        fresh_b,
        dataclasses.replace(
            fresh_a, receipt=b"<Receipt>second copy</Receipt>"
        ),  # identical to one earlier in the batch
        make_message(message_id=fresh_b.message_id, body=b"<Envelope>other</Envelope>"),  # conflicts within the batch
        make_message(
            message_id=stored_before.message_id, body=b"<Envelope>x</Envelope>"
        ),  # conflicts with a stored one
    ]
    at = now()

    results = store.record_many([(new, at) for new in batch])

    a, resend, b, copy_of_a, conflict_b, conflict_before = results  # type: ignore[misc]
    assert a.new and b.new and a.pk != b.pk
    assert resend == Recorded(before.pk, stored_before.receipt)
    assert copy_of_a == Recorded(a.pk, fresh_a.receipt)
    assert conflict_b == Recorded(b.pk, None, conflict=True)
    assert conflict_before == Recorded(before.pk, None, conflict=True)
    assert message_rows(engine) == 3
    assert store.get(fresh_b.sender, fresh_b.message_id).body == fresh_b.body  # type: ignore[union-attr]


def test_record_many_is_one_transaction_all_or_nothing(store: MessageStore, engine: Engine, make_message: Factory) -> None:
    stored_before = store.record(make_message(), T0)
    unstorable = dataclasses.replace(make_message(), document_type=None)  # NOT NULL

    with pytest.raises(IntegrityError):
        store.record_many([(make_message(), now()), (make_message(), now()), (unstorable, now())])

    assert message_rows(engine) == 1
    assert [step.to_status for step in store.timeline(stored_before.pk)] == ["accepted"]  # type: ignore[arg-type]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(message_history)).scalar_one() == 1


def test_record_many_of_nothing(store: MessageStore, engine: Engine) -> None:
    _, taken = connections_taken_during(engine, lambda: store.record_many([]))

    assert _ == [] and taken == 0


# --- the outbox query ---------------------------------------------------------


def test_awaiting_publication_is_oldest_first_before_the_cutoff(store: MessageStore, make_message: Factory) -> None:
    news = [make_message() for _ in range(5)]
    pks = [store.record(new, T0 + dt.timedelta(seconds=i)).pk for i, new in enumerate(news)]

    everything = store.awaiting_publication(T0 + dt.timedelta(hours=1), 100)
    assert [m.pk for m in everything] == pks
    assert [m.body for m in everything] == [n.body for n in news]
    assert all(m.status == MessageStatus.ACCEPTED.value for m in everything)

    # the cutoff is exclusive: received at T0+2s is not "before" T0+2s
    assert [m.pk for m in store.awaiting_publication(T0 + dt.timedelta(seconds=2), 100)] == pks[:2]
    assert store.awaiting_publication(T0, 100) == []
    # the limit takes the oldest
    assert [m.pk for m in store.awaiting_publication(T0 + dt.timedelta(hours=1), 3)] == pks[:3]


def test_awaiting_publication_skips_what_the_broker_confirmed_or_workers_finished(
    store: MessageStore, make_message: Factory
) -> None:
    pks = [store.record(make_message(), T0).pk for _ in range(4)]
    accepted, queued, processed, failed = pks
    store.mark_queued([queued], T0, "http")
    store.mark_failed(failed, "boom", T0, "worker")
    mark_processed(store, processed, T0)

    assert [m.pk for m in store.awaiting_publication(T0 + dt.timedelta(days=1), 100)] == [accepted]


# --- status changes -----------------------------------------------------------


def mark_processed(store: MessageStore, pk: int, at: dt.datetime) -> None:
    """What routing/processing.py does in the worker's transaction."""
    with writing(store.engine) as tx:
        assert transition(
            tx, INBOUND, pk, MessageStatus.PROCESSED, actor="worker", at=at, values={"processed_at": at}
        )


def moves(store: MessageStore, pk: int) -> list[tuple[str | None, str, str]]:
    return [(step.from_status, step.to_status, step.actor) for step in store.timeline(pk)]


def test_recording_writes_the_first_history_row_by_the_door(store: MessageStore, make_message: Factory) -> None:
    received_at = now()
    new, resend = make_message(), make_message()
    first = store.record_many([(new, received_at), (dataclasses.replace(resend, door="soap"), received_at)])
    store.record(new, now())  # an identical resend enters nothing

    (step,) = store.timeline(first[0].pk)
    assert (step.from_status, step.to_status, step.actor, step.at) == (None, "accepted", "http", received_at)
    assert moves(store, first[1].pk) == [(None, "accepted", "soap")]


def test_mark_queued_moves_accepted_only(store: MessageStore, engine: Engine, make_message: Factory) -> None:
    accepted, processed, failed = (store.record(make_message(), T0).pk for _ in range(3))
    processed_at = T0 + dt.timedelta(seconds=5)
    mark_processed(store, processed, processed_at)
    store.mark_failed(failed, "RuntimeError: boom", processed_at, "worker")
    queued_at = T0 + dt.timedelta(seconds=9)

    moved = store.mark_queued([accepted, processed, failed], queued_at, "relay")

    assert moved == [accepted]
    assert row_of(engine, accepted)["status"] == MessageStatus.QUEUED.value
    assert row_of(engine, accepted)["queued_at"].replace(tzinfo=UTC) == queued_at
    assert row_of(engine, processed)["status"] == MessageStatus.PROCESSED.value
    assert row_of(engine, processed)["queued_at"] is None
    assert row_of(engine, failed)["status"] == MessageStatus.FAILED.value
    # only the move that happened is in the history
    assert moves(store, accepted) == [(None, "accepted", "http"), ("accepted", "queued", "relay")]
    assert moves(store, processed) == [(None, "accepted", "http"), ("accepted", "processed", "worker")]
    assert moves(store, failed) == [(None, "accepted", "http"), ("accepted", "failed", "worker")]


def test_mark_queued_of_nothing_changes_nothing(store: MessageStore, engine: Engine, make_message: Factory) -> None:
    pk = store.record(make_message(), T0).pk

    _, taken = connections_taken_during(engine, lambda: store.mark_queued([], T0, "relay"))

    assert taken == 0
    assert row_of(engine, pk)["status"] == MessageStatus.ACCEPTED.value


def test_failed_attempts_are_counted_and_mark_failed_records_the_reason(
    store: MessageStore, engine: Engine, make_message: Factory
) -> None:
    pk = store.record(make_message(), T0).pk
    reason = "ValueError: " + "x" * 5000

    counted = [store.note_failure(pk, f"attempt {n}") for n in (1, 2, 3)]
    assert store.mark_failed(pk, reason, T0, "worker")

    row = row_of(engine, pk)
    assert counted == [1, 2, 3]
    assert row["status"] == MessageStatus.FAILED.value
    assert row["last_error"] == reason[:4000]
    assert row["attempts"] == 3
    assert row["processed_at"].replace(tzinfo=UTC) == T0
    *_, failed = store.timeline(pk)
    assert (failed.from_status, failed.to_status, failed.actor, failed.reason) == ("accepted", "failed", "worker", reason[:4000])
    # a failure is no move: counting attempts leaves no history
    assert len(store.timeline(pk)) == 2


def test_a_processed_message_is_not_marked_failed(store: MessageStore, engine: Engine, make_message: Factory) -> None:
    pk = store.record(make_message(), T0).pk
    mark_processed(store, pk, T0)

    assert not store.mark_failed(pk, "RuntimeError: a late copy failed", T0, "worker")

    row = row_of(engine, pk)
    assert (row["status"], row["last_error"]) == (MessageStatus.PROCESSED.value, None)
    assert moves(store, pk) == [(None, "accepted", "http"), ("accepted", "processed", "worker")]


def test_find_by_row_number_or_message_id(store: MessageStore, make_message: Factory) -> None:
    first = make_message(sender="0101234567")
    same_id = make_message(sender="0309876543", message_id=first.message_id)
    a, b = store.record(first, T0).pk, store.record(same_id, T0).pk

    (by_pk,) = store.find(a)
    assert (by_pk["id"], by_pk["sender"], by_pk["message_id"]) == (a, first.sender, first.message_id)
    assert "body" not in by_pk and "receipt" not in by_pk
    assert [row["id"] for row in store.find(first.message_id)] == [a, b]
    assert [row["id"] for row in store.find(first.message_id, "0309876543")] == [b]
    assert store.find(first.message_id, "nobody") == [] and store.find(b + 1) == []


# --- reports ------------------------------------------------------------------


@pytest.fixture
def population(store: MessageStore, make_message: Factory) -> dict[str, int]:
    """3 orders (one queued), 2 declarations (one failed), 1 from another sender."""
    pks = {
        "order1": store.record(make_message(), T0).pk,
        "order2": store.record(make_message(), T0).pk,
        "order3": store.record(make_message(), T0).pk,
        "decl1": store.record(make_message(document_type="ECOM_DECLARATION", route="declarations"), T0).pk,
        "decl2": store.record(make_message(document_type="ECOM_DECLARATION", route="declarations"), T0).pk,
        "other": store.record(make_message(sender="0309876543"), T0).pk,
    }
    store.mark_queued([pks["order3"]], T0, "http")
    store.mark_failed(pks["decl2"], "boom", T0, "worker")
    return pks  # type: ignore[return-value]


def test_count_by(store: MessageStore, population: dict[str, int]) -> None:
    assert store.count_by("document_type") == [("ECOM_DECLARATION", 2), ("ECOM_ORDER", 4)]
    assert store.count_by("document_type", "status") == [
        ("ECOM_DECLARATION", "accepted", 1),
        ("ECOM_DECLARATION", "failed", 1),
        ("ECOM_ORDER", "accepted", 3),
        ("ECOM_ORDER", "queued", 1),
    ]
    assert store.count_by("status", sender="0101234567", document_type="ECOM_ORDER") == [("accepted", 2), ("queued", 1)]
    assert store.count_by("status", status="failed", document_type=None) == [("failed", 1)]
    assert store.count_by("status", sender="nobody") == []


def test_count_by_without_columns_with_a_filter_is_the_filtered_total(
    store: MessageStore, population: dict[str, int]
) -> None:
    assert store.count_by(status="accepted") == [(4,)]
    assert store.count_by(sender="0309876543") == [(1,)]


def test_count_by_without_columns_or_filters_is_the_total(store: MessageStore, population: dict[str, int]) -> None:
    assert store.count_by() == [(6,)]


def test_list_is_newest_first_with_filters(store: MessageStore, population: dict[str, int]) -> None:
    listed = store.list()
    assert [row["id"] for row in listed] == sorted(population.values(), reverse=True)
    assert set(listed[0]) == {
        "id",
        "received_at",
        "sender",
        "message_id",
        "document_type",
        "function",
        "status",
        "route",
        "last_error",
    }

    assert [row["id"] for row in store.list(limit=2)] == sorted(population.values(), reverse=True)[:2]
    orders = store.list(document_type="ECOM_ORDER", sender="0101234567")
    assert [row["id"] for row in orders] == [population["order3"], population["order2"], population["order1"]]
    failed = store.list(status="failed", sender=None)
    assert [(row["id"], row["last_error"], row["route"]) for row in failed] == [
        (population["decl2"], "boom", "declarations")
    ]


def test_list_and_count_refuse_an_unknown_column(store: MessageStore) -> None:
    with pytest.raises(KeyError):
        store.count_by("no_such_column")
    with pytest.raises(KeyError):
        store.list(no_such_column="x")


# --- rejections ---------------------------------------------------------------


def test_record_rejection_stores_codes_and_json_errors(store: MessageStore, engine: Engine) -> None:
    problems = [
        Problem(ErrorCode.PAYLOAD_SCHEMA_INVALID, "phần tử 'hsCode' không hợp lệ", "/Envelope/Body/Content/item[2]"),
        Problem(ErrorCode.CERTIFICATE_EXPIRED, "the certificate expired"),
        Problem(ErrorCode.PAYLOAD_SCHEMA_INVALID, "second schema error", "/Envelope/Body/Content/item[3]"),
    ]
    received_at = T0

    store.record_rejection(
        received_at=received_at,
        door="soap",
        peer="2001:db8::7",
        sender="S" * 80,  # as claimed; longer than the column: clipped, not an error
        message_id="not-a-uuid",
        document_type="ECOM_ORDER",
        correlation_id="corr-1",
        digest="ab" * 32,
        problems=problems,
        body=b"<Envelope/>",
        receipt=b"<Receipt status='REJECTED'/>",
    )

    with engine.connect() as connection:
        (row,) = connection.execute(select(rejections)).all()
    assert row.codes == "CERTIFICATE_EXPIRED PAYLOAD_SCHEMA_INVALID"  # unique and sorted
    assert json.loads(row.errors) == [
        {
            "code": "PAYLOAD_SCHEMA_INVALID",
            "message": "phần tử 'hsCode' không hợp lệ",
            "location": "/Envelope/Body/Content/item[2]",
        },
        {"code": "CERTIFICATE_EXPIRED", "message": "the certificate expired", "location": None},
        {
            "code": "PAYLOAD_SCHEMA_INVALID",
            "message": "second schema error",
            "location": "/Envelope/Body/Content/item[3]",
        },
    ]
    assert "phần tử" in row.errors  # stored readable, not \u-escaped
    assert row.sender == "S" * 64
    assert (row.door, row.peer, row.message_id, row.document_type, row.correlation_id) == (
        "soap",
        "2001:db8::7",
        "not-a-uuid",
        "ECOM_ORDER",
        "corr-1",
    )
    assert row.body == b"<Envelope/>" and row.receipt == b"<Receipt status='REJECTED'/>"
    assert row.received_at.replace(tzinfo=UTC) == received_at


def test_record_rejection_of_an_unreadable_request(store: MessageStore, engine: Engine) -> None:
    """Too large to keep, nothing known about it: only the digest, the codes and the receipt."""
    store.record_rejection(
        received_at=T0,
        door="http",
        peer=None,
        sender=None,
        message_id=None,
        document_type=None,
        correlation_id=None,
        digest="cd" * 32,
        problems=[Problem(ErrorCode.REQUEST_TOO_LARGE, "the body has 99 bytes; the limit is 10")],
        body=None,
        receipt=b"<Receipt/>",
    )

    with engine.connect() as connection:
        (row,) = connection.execute(select(rejections)).all()
    assert (row.peer, row.sender, row.message_id, row.document_type, row.body) == (None, None, None, None, None)
    assert row.codes == "REQUEST_TOO_LARGE"
    assert json.loads(row.errors)[0]["message"] == "the body has 99 bytes; the limit is 10"
