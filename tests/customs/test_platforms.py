"""PLATFORM_REGISTRATION through intake, the real broker and a worker, on both stores: the registry,
its history, the standing of a platform at any moment, and a suspended platform in a later decision."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select
from support import config_with_rules, without_random_selection

from customs.platforms import platform_standing
from customs.state import decisions, platform_history, platforms
from gateway.envelope import content_element, qname

pytestmark = pytest.mark.stores("sqlite")  # business: SQLite; the PostgreSQL cross-checks are marked (tests/conftest.py)

MARKETPLACE = "0101234567"
OTHER_OPERATOR = "0109999999"
HANDLER = "routing.handlers.platforms:handler"
PR_NS = "urn:customs.gov.vn:ecom:platform-registration:1"
CM_NS = "urn:customs.gov.vn:ecom:common:1"


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    """The repository's configuration without random selection, so that a lane depends only on the findings."""
    return config_with_rules(tmp_path, pki_dir, namespace, risk=without_random_selection)


def registration(
    function: str = "01",
    status: str | None = None,
    operator: str | None = None,
    urls: list[str] | None = None,
    effective_from: str | None = None,
) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        root.find(f"{qname('Header')}/{qname('Subject')}/{qname('function')}").text = function
        payload = content_element(root)
        ns = {"p": PR_NS, "cm": CM_NS}
        for path, value in (("p:status", status), ("p:operator/cm:id", operator), ("p:effectiveFrom", effective_from)):
            if value is not None:
                payload.find(path, ns).text = value
        if urls is not None:
            websites = payload.find("p:websites", ns)
            for old in list(websites):
                websites.remove(old)
            for url in urls:
                etree.SubElement(websites, f"{{{PR_NS}}}url").text = url

    return edit


def platform(exchange) -> dict | None:  # type: ignore[no-untyped-def]
    with exchange.services.engine.connect() as connection:
        row = connection.execute(select(platforms).where(platforms.c.platform_id == "VIETSHOP")).first()
    return dict(row._mapping) if row else None


def history(exchange) -> list[dict]:  # type: ignore[no-untyped-def]
    with exchange.services.engine.connect() as connection:
        query = (
            select(platform_history).where(platform_history.c.platform_id == "VIETSHOP").order_by(platform_history.c.id)
        )
        return [dict(row._mapping) for row in connection.execute(query)]


def standing(exchange, at: dt.datetime) -> str | None:  # type: ignore[no-untyped-def]
    with exchange.services.engine.connect() as connection:
        return platform_standing(connection, "VIETSHOP", at)


def utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def test_registered_amended_suspended_and_cancelled_with_the_history_of_every_change(exchange) -> None:  # type: ignore[no-untyped-def]
    before = dt.datetime.now(dt.UTC)
    registered = exchange.send("PLATFORM_REGISTRATION")
    row = platform(exchange)
    assert row is not None and (row["name"], row["operator"], row["country"], row["status"]) == (
        "Sàn Thương mại Điện tử VietShop",
        MARKETPLACE,
        "VN",
        "ACTIVE",
    )
    assert row["facts"]["websites"] == ["https://vietshop.vn", "https://m.vietshop.vn", "https://seller.vietshop.vn"]
    assert row["facts"]["type"] == "MARKETPLACE" and row["facts"]["effective_from"] == "2026-02-15"
    assert row["message"] == registered.pk
    assert exchange.outcome(registered, HANDLER) == f"platform VIETSHOP ACTIVE (function 01) from {MARKETPLACE}"

    exchange.send("PLATFORM_REGISTRATION", edit=registration("02", urls=["https://vietshop.vn"]))
    exchange.send("PLATFORM_REGISTRATION", "BCT", registration("02", status="SUSPENDED"))
    exchange.send("PLATFORM_REGISTRATION", edit=registration("03"))

    row = platform(exchange)
    assert (
        row is not None and row["status"] == "CANCELLED" and len(row["facts"]["websites"]) == 3
    )  # as the ministry last sent them
    changes = history(exchange)
    assert [(c["function"], c["status"], c["sender"]) for c in changes] == [
        ("01", "ACTIVE", MARKETPLACE),
        ("02", "ACTIVE", MARKETPLACE),
        ("02", "SUSPENDED", "BCT"),
        ("03", "CANCELLED", MARKETPLACE),
    ]
    assert len(changes[0]["facts"]["websites"]) == 3 and changes[1]["facts"]["websites"] == ["https://vietshop.vn"]
    moments = [utc(c["recorded_at"]) for c in changes]
    assert standing(exchange, before) is None
    assert [standing(exchange, moment) for moment in moments] == ["ACTIVE", "ACTIVE", "SUSPENDED", "CANCELLED"]
    assert standing(exchange, moments[2] - dt.timedelta(microseconds=1)) == "ACTIVE"


def test_a_registration_counts_from_its_effective_date(exchange) -> None:  # type: ignore[no-untyped-def]
    exchange.send("PLATFORM_REGISTRATION", edit=registration(effective_from="2099-01-01"))

    assert standing(exchange, dt.datetime.now(dt.UTC)) == "NOT_YET_EFFECTIVE"
    assert standing(exchange, dt.datetime(2099, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=7)))) == "ACTIVE"
    assert standing(exchange, dt.datetime(2098, 12, 31, 16, 59, tzinfo=dt.UTC)) == "NOT_YET_EFFECTIVE"


def test_cancelling_an_unknown_platform_changes_nothing(exchange) -> None:  # type: ignore[no-untyped-def]
    stored = exchange.send("PLATFORM_REGISTRATION", edit=registration("03"))

    assert exchange.outcome(stored, HANDLER) == "platform VIETSHOP is not registered; nothing to cancel"
    assert platform(exchange) is None and history(exchange) == []


def test_a_change_by_another_party_that_passed_intake_first_is_not_applied(exchange) -> None:  # type: ignore[no-untyped-def]
    # Both pass intake while nothing is registered; the ministry's registration is processed first.
    exchange.submit("PLATFORM_REGISTRATION", "BCT", registration(operator=OTHER_OPERATOR))
    late = exchange.submit("PLATFORM_REGISTRATION")
    exchange.process()

    assert (
        exchange.outcome(late, HANDLER)
        == f"platform VIETSHOP: change by {MARKETPLACE} refused; its operator is {OTHER_OPERATOR}"
    )
    row = platform(exchange)
    assert row is not None and row["operator"] == OTHER_OPERATOR and len(history(exchange)) == 1


def test_a_suspended_platform_is_a_finding_of_later_decisions(exchange) -> None:  # type: ignore[no-untyped-def]
    exchange.send("PLATFORM_REGISTRATION")
    exchange.send("ECOM_ORDER")
    exchange.send("ECOM_DECLARATION")
    exchange.send("PLATFORM_REGISTRATION", "BCT", registration("02", status="SUSPENDED"))
    exchange.send("ECOM_DECLARATION", edit=lambda root: _renumber(root, "107012345681"))

    first, second = (_findings(exchange, number) for number in ("107012345670", "107012345681"))
    assert first == []
    assert second == ["PLATFORM_SUSPENDED"]
    notice = exchange.sent("LANE_NOTICE", "0309876543")[-1]
    assert notice.texts("declarationNumber") == ["107012345681"] and "RP_PLATFORM_UNREGISTERED" in notice.texts("code")


def _renumber(root: etree._Element, number: str) -> None:
    root.find(f"{qname('Header')}/{qname('Subject')}/{qname('reference')}").text = number
    next(content_element(root).iter("{*}declarationNumber")).text = number


def _findings(exchange, number: str) -> list[str]:  # type: ignore[no-untyped-def]
    with exchange.services.engine.connect() as connection:
        record = connection.execute(select(decisions.c.record).where(decisions.c.declaration == number)).scalar_one()
    return [finding["code"] for finding in record["findings"]]
