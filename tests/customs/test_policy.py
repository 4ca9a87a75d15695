"""POLICY_NOTICE through intake, the real broker and a worker, on both stores: versioned list entries,
amendments and cancellations that count from when they are known, and decisions that never change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select
from support import config_with_rules, without_random_selection

from customs.policy import PolicyEntry, entries_in_force
from customs.state import decisions, policy_entries
from gateway.envelope import content_element, qname

pytestmark = pytest.mark.stores("sqlite")  # business: SQLite; the PostgreSQL cross-checks are marked (tests/conftest.py)

PN_NS = "urn:customs.gov.vn:ecom:policy-notice:1"
CM_NS = "urn:customs.gov.vn:ecom:common:1"
HANDLER = "routing.handlers.policy:handler"
ALL = ["E1", "E2", "E3", "Q1", "Q2"]
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    """The repository's configuration without random selection, so that a lane depends only on the findings."""
    return config_with_rules(tmp_path, pki_dir, namespace, risk=without_random_selection)


def notice(
    function: str = "01",
    keep: list[str] | None = None,
    effective_to: str | None = None,
    ministry: str | None = None,
    anonymous: bool = False,
) -> Callable[[etree._Element], None]:
    """An edit of the sample notice: its function, the entries kept, an effectiveTo, the ministry, entries without ids."""

    def edit(root: etree._Element) -> None:
        root.find(f"{qname('Header')}/{qname('Subject')}/{qname('function')}").text = function
        payload = content_element(root)
        ns = {"p": PN_NS, "cm": CM_NS}
        if ministry is not None:
            payload.find("p:ministry/cm:code", ns).text = ministry
        if effective_to is not None:
            payload.find("p:effectiveFrom", ns).addnext(etree.Element(f"{{{PN_NS}}}effectiveTo"))
            payload.find("p:effectiveTo", ns).text = effective_to
        for entry in payload.find("p:entries", ns):
            if keep is not None and entry.findtext("p:entryId", namespaces=ns) not in keep:
                entry.getparent().remove(entry)
            elif anonymous:
                entry.remove(entry.find("p:entryId", ns))

    return edit


def in_force(exchange, at: dt.datetime = NOW, decided_at: dt.datetime | None = None) -> list[PolicyEntry]:  # type: ignore[no-untyped-def]
    with exchange.services.engine.connect() as connection:
        return entries_in_force(connection, at, decided_at or dt.datetime.now(dt.UTC))


def ids(entries: list[PolicyEntry]) -> list[str]:
    return [entry.entry_id for entry in entries]


def recorded(exchange) -> list[dict]:  # type: ignore[no-untyped-def]
    with exchange.services.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(policy_entries).order_by(policy_entries.c.id))]


def test_a_notice_records_its_entries_from_its_effective_date(exchange) -> None:  # type: ignore[no-untyped-def]
    stored = exchange.send("POLICY_NOTICE")

    assert exchange.outcome(stored, HANDLER) == "policy notice 125/TB-BYT (BYT): 5 entries recorded, 0 withdrawn"
    entries = in_force(exchange)
    assert ids(entries) == ALL
    e1, _, e3, q1, _ = entries
    assert (e1.notice, e1.ministry, e1.kind, e1.hs_prefix, e1.hs_code) == (
        "125/TB-BYT",
        "BYT",
        "exception",
        "210690",
        None,
    )
    assert e1.reason is not None and e1.reason.startswith("Phải kiểm tra nhà nước")
    assert (e3.hs_code, e3.hs_prefix) == ("19011020", None)
    assert (q1.kind, q1.max_quantity, q1.unit, q1.per) == ("quantity", 10.0, "PCE", "SHIPMENT")
    midnight_in_hanoi = dt.datetime(2026, 1, 31, 17, 0, tzinfo=dt.UTC)  # effectiveFrom 2026-02-01, Asia/Ho_Chi_Minh
    assert e1.effective_from == midnight_in_hanoi and e1.effective_to is None and e1.withdrawn_at is None
    assert in_force(exchange, at=midnight_in_hanoi - dt.timedelta(seconds=1)) == []
    assert ids(in_force(exchange, at=midnight_in_hanoi)) == ALL


def test_an_effective_to_date_is_the_last_day_in_force(exchange) -> None:  # type: ignore[no-untyped-def]
    exchange.send("POLICY_NOTICE", edit=notice(effective_to="2026-06-30"))

    last_second = dt.datetime(2026, 6, 30, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    assert ids(in_force(exchange, at=last_second)) == ALL
    assert in_force(exchange, at=last_second + dt.timedelta(seconds=1)) == []


def test_an_amendment_replaces_the_entries_for_decisions_taken_after_it(exchange) -> None:  # type: ignore[no-untyped-def]
    exchange.send("POLICY_NOTICE")
    amendment = exchange.send("POLICY_NOTICE", edit=notice("02", keep=["E1", "Q1"]))

    assert exchange.outcome(amendment, HANDLER) == "policy notice 125/TB-BYT (BYT): 2 entries recorded, 5 withdrawn"
    rows = recorded(exchange)
    first_known, amended_at = rows[0]["recorded_at"], rows[-1]["recorded_at"]
    assert all(row["withdrawn_at"] == amended_at for row in rows[:5]) and all(
        row["withdrawn_at"] is None for row in rows[5:]
    )
    assert ids(in_force(exchange, decided_at=_utc(amended_at) - dt.timedelta(microseconds=1))) == ALL
    assert ids(in_force(exchange, decided_at=_utc(amended_at))) == ["E1", "Q1"]
    assert in_force(exchange, decided_at=_utc(first_known) - dt.timedelta(microseconds=1)) == []


def test_a_cancellation_withdraws_the_entries_from_then_on(exchange) -> None:  # type: ignore[no-untyped-def]
    exchange.send("POLICY_NOTICE")
    cancellation = exchange.send("POLICY_NOTICE", edit=notice("03"))

    assert exchange.outcome(cancellation, HANDLER) == "policy notice 125/TB-BYT (BYT) cancelled: 5 entries withdrawn"
    assert in_force(exchange) == []
    withdrawn_at = _utc(recorded(exchange)[0]["withdrawn_at"])
    assert ids(in_force(exchange, decided_at=withdrawn_at - dt.timedelta(microseconds=1))) == ALL


def test_a_second_declaration_of_the_same_notice_replaces_the_first(exchange) -> None:  # type: ignore[no-untyped-def]
    exchange.send("POLICY_NOTICE")
    exchange.send("POLICY_NOTICE", edit=notice(keep=["E2"]))

    assert ids(in_force(exchange)) == ["E2"]


def test_notices_of_different_ministries_are_apart(exchange) -> None:  # type: ignore[no-untyped-def]
    exchange.send("POLICY_NOTICE")
    exchange.send("POLICY_NOTICE", "BCT", notice("03", ministry="BCT"))  # the same number, another ministry

    assert ids(in_force(exchange)) == ALL


def test_entries_without_an_id_are_named_by_their_position(exchange) -> None:  # type: ignore[no-untyped-def]
    exchange.send("POLICY_NOTICE", edit=notice(anonymous=True))

    assert ids(in_force(exchange)) == ["1", "2", "3", "4", "5"]


def test_only_ministries_may_send_a_notice(exchange) -> None:  # type: ignore[no-untyped-def]
    for party in ("0101234567", "0309876543", "HQHCM", "VNSW"):
        outcome = exchange.offer("POLICY_NOTICE", party)
        assert not outcome.accepted and outcome.codes == ("ROLE_NOT_PERMITTED",), party
    ministries = [p.identity for p in exchange.services.parties.all() if "ministry" in p.roles]
    assert sorted(ministries) == ["BCT", "BYT"]


def test_an_entry_covers_its_exact_code_or_its_prefix() -> None:
    base = dict(notice="N", ministry="BYT", entry_id="E", kind="exception", description=None, reason=None, max_quantity=None,
                unit=None, per=None, effective_from=NOW, effective_to=None, recorded_at=NOW, withdrawn_at=None)  # fmt: skip
    exact = PolicyEntry(hs_code="19011020", hs_prefix=None, **base)
    prefix = PolicyEntry(hs_code=None, hs_prefix="2106", **base)
    assert exact.covers("19011020") and not exact.covers("190110201") and not exact.covers("1901")
    assert prefix.covers("21069072") and prefix.covers("2106") and not prefix.covers("2107")


def test_a_notice_changes_later_decisions_only(exchange) -> None:  # type: ignore[no-untyped-def]
    exchange.send("PLATFORM_REGISTRATION")
    exchange.send("ECOM_ORDER")
    exchange.send("ECOM_DECLARATION")  # line 4: food supplement (HS 21069072) of 946,800 VND
    exchange.send("POLICY_NOTICE")  # BYT: 210690 may not be exempted
    exchange.send("ECOM_DECLARATION", edit=_renumbered("107012345681"))

    before, after = (_line_4(exchange, number) for number in ("107012345670", "107012345681"))
    assert (before["exemption"], before["rule"], before["list_entry"]) == ("EXEMPT", "DE_MINIMIS_1M", None)
    assert (after["exemption"], after["rule"], after["list_entry"], after["ministry"]) == (
        "INSPECTION_REQUIRED",
        "MINISTRY_EXCEPTION_LIST",
        "125/TB-BYT#E1",
        "BYT",
    )


def _renumbered(number: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        root.find(f"{qname('Header')}/{qname('Subject')}/{qname('reference')}").text = number
        next(content_element(root).iter("{*}declarationNumber")).text = number

    return edit


def _line_4(exchange, number: str) -> dict:  # type: ignore[no-untyped-def]
    with exchange.services.engine.connect() as connection:
        (record,) = connection.execute(select(decisions.c.record).where(decisions.c.declaration == number)).scalars()
    return next(item for item in record["items"] if item["line"] == 4)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
