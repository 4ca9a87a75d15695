"""The audit trail: a hash chain that shows a changed, removed or inserted record, and signed seals that show
a rewrite of the whole table; on both stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, delete, select, update

from app.wiring import STATE_TABLES  # noqa: F401  (the console's tables join the metadata)
from console import audit
from console.tables import audit_seals, audit_trail
from gateway.signing.keys import SigningIdentity
from gateway.store.engine import make_engine, writing


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    built = make_engine(db_url)
    yield built
    built.dispose()


def append(engine: Engine, count: int) -> None:
    for number in range(count):
        with writing(engine) as tx:
            audit.record(tx, audit.Entry("operator:alice", "outbox.resend", "10.0.0.1", f"outbox:{number}",
                                         {"status": "parked"}, {"status": "pending"}, "partner back"))


def check(engine: Engine, signer: SigningIdentity) -> audit.Verification:
    with engine.connect() as connection:
        return audit.verify(connection, signer.certificate)


@pytest.fixture
def signer(identity: Callable[[str], SigningIdentity]) -> SigningIdentity:
    return identity("VNECOMGW")


def test_an_untouched_chain_verifies_and_its_seal_covers_its_head(engine: Engine, signer: SigningIdentity) -> None:
    append(engine, 5)
    assert audit.seal(engine, signer) == 5
    append(engine, 2)
    result = check(engine, signer)
    assert result.ok, result.problems
    assert (result.records, result.seals, result.sealed_through) == (7, 1, 5)


def test_a_changed_record_breaks_the_chain_there(engine: Engine, signer: SigningIdentity) -> None:
    append(engine, 4)
    with writing(engine) as tx:
        tx.execute(update(audit_trail).where(audit_trail.c.id == 3).values(actor="operator:mallory"))
    assert check(engine, signer).problems == ["record 3 was changed after it was written (its hash does not match)"]


def test_a_removed_record_is_found(engine: Engine, signer: SigningIdentity) -> None:
    append(engine, 4)
    with writing(engine) as tx:
        tx.execute(delete(audit_trail).where(audit_trail.c.id == 2))
    assert check(engine, signer).problems == ["record 2 is missing (the next one is 3)"]


def test_a_rewrite_of_the_whole_table_is_found_by_the_seal(engine: Engine, signer: SigningIdentity) -> None:
    append(engine, 3)
    audit.seal(engine, signer)
    with writing(engine) as tx:  # the whole chain recomputed, record 2 changed: every hash chains again
        rows = [dict(row._mapping) for row in tx.execute(select(audit_trail).order_by(audit_trail.c.id))]
        tx.execute(delete(audit_trail))
        prev = audit.GENESIS
        for row in rows:
            if row["id"] == 2:
                row["reason"] = "nothing to see"
            row["prev_hash"], row["hash"] = prev, audit.chained_hash(prev, row)
            prev = row["hash"]
            tx.execute(audit_trail.insert().values(row))
    problems = check(engine, signer).problems
    assert len(problems) == 1 and "record 3 is not the record that was sealed" in problems[0]


def test_a_forged_seal_is_found(engine: Engine, signer: SigningIdentity, identity: Callable[[str], SigningIdentity]) -> None:
    append(engine, 2)
    audit.seal(engine, identity("0101234567"))  # someone else's key
    audit.seal(engine, signer)
    with writing(engine) as tx:
        tx.execute(update(audit_seals).where(audit_seals.c.id == 2).values(head_hash="0" * 64))
    problems = check(engine, signer).problems
    assert [problem.split(": ", 1)[1] for problem in problems] == [
        "signed by a certificate that is not the gateway's", "its signature is not valid",
    ]


def test_concurrent_appends_chain_one_after_the_other(engine: Engine, signer: SigningIdentity) -> None:
    import threading

    threads = [threading.Thread(target=append, args=(engine, 5)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = check(engine, signer)
    assert result.ok and result.records == 20, result.problems
