"""The sharing handler behind the business handlers of its routes, on real RabbitMQ and both stores."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import REPO, config_with_rules

from routing.table import RoutingTable

pytestmark = pytest.mark.stores("sqlite")  # business: SQLite; the PostgreSQL cross-checks are marked (tests/conftest.py)

SHARING = "routing.handlers.sharing:handler"
POLICY_SUBSCRIPTIONS = """
[[sharing.subscription]]
party = "BYT"
document_types = ["POLICY_NOTICE"]

[[sharing.subscription]]
party = "HQHCM"
document_types = ["POLICY_NOTICE"]
"""


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    """The repository's rules, and a customs office and the ministry of health receiving policy notices."""
    return config_with_rules(tmp_path, pki_dir, namespace, business=lambda rules: rules + POLICY_SUBSCRIPTIONS)


@pytest.mark.parametrize("route", ["orders", "inspection", "platforms", "policy"])
def test_the_repository_routes_share_after_their_business_handler(route: str) -> None:
    (found,) = [r for r in RoutingTable.load(REPO / "config" / "routes.toml").routes if r.name == route]
    assert len(found.handlers) == 2 and found.handlers[1] == SHARING


def test_a_platform_registration_is_copied_to_the_ministry_keeping_the_register(exchange) -> None:  # type: ignore[no-untyped-def]
    registration = exchange.send("PLATFORM_REGISTRATION")

    assert exchange.outcome(registration, SHARING) == "shared PLATFORM_REGISTRATION/01: 1 copy"
    (copy,) = exchange.sent("PLATFORM_REGISTRATION")
    header = copy.header
    assert (copy.recipient, header.function, header.reference, header.pre_reference) == (
        "BCT",
        "01",
        "VIETSHOP",
        registration.message_id,
    )
    assert copy.texts("platformId") == ["VIETSHOP"]


def test_a_policy_notice_is_copied_to_its_subscribers_but_not_back_to_the_ministry_that_sent_it(exchange) -> None:  # type: ignore[no-untyped-def]
    notice = exchange.send("POLICY_NOTICE")

    assert exchange.outcome(notice, SHARING) == "shared POLICY_NOTICE/01: 1 copy"
    assert [(c.recipient, c.header.pre_reference) for c in exchange.sent("POLICY_NOTICE")] == [
        ("HQHCM", notice.message_id)
    ]


def test_an_order_without_subscribers_is_not_copied(exchange) -> None:  # type: ignore[no-untyped-def]
    order = exchange.send("ECOM_ORDER")

    assert exchange.outcome(order, SHARING) == "shared ECOM_ORDER/01: 0 copies"
    assert exchange.sent("ECOM_ORDER") == []
