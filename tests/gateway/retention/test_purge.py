"""Purge: only final messages past their retention go, each into a verified signed archive, leaving a tombstone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aged import NOW, archived, inbound, reply
from sqlalchemy import Engine, func, select

from gateway.lifecycle import MessageStatus
from gateway.retention.purge import Purger
from gateway.retention.verify import verify_archive
from gateway.signing.trust import TrustStore
from gateway.store.messages import MessageStore
from gateway.store.tables import archives, message_history, messages, outbox, processing, purged_messages


def count(engine: Engine, table: object, *where: object) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one()  # type: ignore[arg-type]


def test_only_final_messages_past_their_retention_are_purged_and_each_is_in_a_verified_archive(
    engine: Engine, store: MessageStore, purger_for: Callable[..., Purger], pki_dir: Path
) -> None:
    old = [inbound(store, age_days=40) for _ in range(3)]
    kept = [
        inbound(store, age_days=10),  # not past its 30 days
        inbound(store, age_days=40, status=MessageStatus.QUEUED),  # not in a final state
        inbound(store, age_days=400, document_type="ECOM_ORDER"),  # a type kept for ever (no default)
    ]
    purger = purger_for(document_types={"ECOM_DECLARATION": 30}, batch=2)
    assert purger.due(NOW).inbound == 3

    report = purger.run(NOW)

    assert (report.inbound, report.outbound, report.rejections, len(report.archives)) == (3, 0, 0, 2)  # batches of 2
    remaining = {row.message_id for row in _all(engine, messages.c.message_id)}
    assert remaining == {new.message_id for new in kept}
    for new in old:
        assert count(engine, purged_messages, purged_messages.c.message_id == new.message_id) == 1
    assert count(engine, message_history, message_history.c.kind == "inbound") == 3 + 2 + 3  # the kept ones' only (entered, queued, processed)
    assert count(engine, archives) == 2
    trust = TrustStore.from_files([pki_dir / "ca.pem"])
    for path in report.archives:
        assert sum(verify_archive(path, trust).counts.values()) in (1, 2)
    assert archived(report.archives) == {new.body: new.receipt for new in old}  # the exact bytes, with their receipts

    assert purger.run(NOW).inbound == 0  # idempotent: nothing is due any more
    assert purger.due(NOW).inbound == 0


def test_a_message_a_kept_reply_points_to_stays_until_the_reply_goes(
    engine: Engine, store: MessageStore, purger_for: Callable[..., Purger]
) -> None:
    inbound(store, age_days=40)
    source = _all(engine, messages.c.id)[0].id
    answer = reply(engine, source=source, age_days=40)

    assert purger_for(default_days=30).run(NOW).inbound == 0  # the outbox is kept for ever
    report = purger_for(default_days=30, outbox_days=30).run(NOW)

    assert (report.inbound, report.outbound) == (1, 1)
    assert count(engine, outbox, outbox.c.id == answer) == 0
    assert count(engine, processing) == 0


def test_undelivered_replies_and_recent_rejections_stay(
    engine: Engine, store: MessageStore, purger_for: Callable[..., Purger]
) -> None:
    pending = reply(engine, source=None, age_days=90, delivered=False)
    delivered = reply(engine, source=None, age_days=90)
    report = purger_for(outbox_days=30, rejections_days=30).run(NOW)
    assert report.outbound == 1
    assert [row.id for row in _all(engine, outbox.c.id)] == [pending]
    assert delivered != pending


def test_keeping_everything_is_the_default(engine: Engine, store: MessageStore, purger_for: Callable[..., Purger]) -> None:
    inbound(store, age_days=10_000)
    reply(engine, source=None, age_days=10_000)
    assert purger_for().run(NOW).archives == []
    assert count(engine, messages) == 1


def _all(engine: Engine, *columns: object) -> list:
    with engine.connect() as connection:
        return list(connection.execute(select(*columns)))  # type: ignore[call-overload]
