"""The business of the e-commerce customs system end to end: intake, real RabbitMQ, the handlers, the store.

Each test sends signed messages through the intake pipeline, has them processed
as a worker processes them, and reads the decisions and the signed notices in the outbox.
The random selection rate is set to 0 here (a test of its own sets it to 100),
so that lanes depend only on what each test arranges.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from business import Exchange
from lxml import etree
from sqlalchemy import select
from support import config_with_rules, without_random_selection

from customs.risk import replay
from customs.state import decisions, declarations
from gateway.pipeline import Transport
from gateway.services import Services
from gateway.store.tables import outbox

pytestmark = pytest.mark.stores("sqlite")  # business: SQLite; the PostgreSQL cross-checks are marked (tests/conftest.py)

HTTP = Transport("http")
NUMBER = "107012345670"
LOGISTICS = "0309876543"


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    return config_with_rules(tmp_path, pki_dir, namespace, risk=without_random_selection)


class Flow:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.services: Services = exchange.services

    def send(self, document_type: str, party: str | None = None, edit: Callable[[etree._Element], object] | None = None) -> str:
        """Submit a signed sample (edited) and run its handlers; returns its messageId."""
        return self.exchange.send(document_type, party, edit).message_id

    def sent(self, document_type: str, recipient: str | None = None) -> list[etree._Element]:
        """The payloads of the signed messages the gateway stored for sending, oldest first."""
        query = select(outbox.c.body).where(outbox.c.document_type == document_type).order_by(outbox.c.id)
        if recipient:
            query = query.where(outbox.c.recipient == recipient)
        with self.services.engine.connect() as connection:
            bodies = list(connection.execute(query).scalars())
        return [etree.fromstring(body)[1][0][0] for body in bodies]  # Envelope/Body/Content/payload

    def decision(self, number: str = NUMBER) -> dict:
        with self.services.engine.connect() as connection:
            row = connection.execute(select(decisions).where(decisions.c.declaration == number).order_by(decisions.c.id.desc())).first()
        assert row is not None, f"no decision on {number}"
        return dict(row._mapping)

    def declaration_status(self, number: str = NUMBER) -> str:
        with self.services.engine.connect() as connection:
            return connection.execute(select(declarations.c.status).where(declarations.c.number == number)).scalar_one()

    def registered_platform(self) -> None:
        self.send("PLATFORM_REGISTRATION")


@pytest.fixture
def flow(exchange: Exchange) -> Flow:
    return Flow(exchange)


def text(payload: etree._Element, local: str) -> list[str]:
    return [e.text for e in payload.iter(f"{{*}}{local}")]


def set_values(root: etree._Element, local: str, values: dict[int, str]) -> None:
    """Set the text of the n-th (1-based) element `local` in the payload."""
    found = list(root.iter(f"{{*}}{local}"))
    for index, value in values.items():
        found[index - 1].text = value


def low_value(root: etree._Element) -> None:
    set_values(root, "customsValueVND", {2: "900000"})


def test_a_low_value_declaration_goes_green_with_its_exemptions(flow: Flow) -> None:
    flow.registered_platform()
    flow.send("ECOM_ORDER")
    flow.send("ECOM_DECLARATION", edit=low_value)

    (notice,) = flow.sent("LANE_NOTICE", LOGISTICS)
    assert text(notice, "lane") == ["GREEN"]
    assert text(notice, "exemption") == ["EXEMPT"] * 6
    assert set(text(notice, "rule")) == {"DE_MINIMIS_1M"}
    assert flow.declaration_status() == "decided"
    assert flow.decision()["record"]["findings"] == []


def test_a_declaration_waits_for_its_order_and_is_decided_when_it_arrives(flow: Flow) -> None:
    flow.registered_platform()
    flow.send("ECOM_DECLARATION", edit=low_value)

    assert flow.declaration_status() == "waiting_orders" and flow.sent("LANE_NOTICE") == []

    flow.send("ECOM_ORDER")

    assert text(flow.sent("LANE_NOTICE", LOGISTICS)[0], "lane") == ["GREEN"]


def test_a_mismatch_sends_the_declaration_to_yellow_with_its_reason(flow: Flow) -> None:
    flow.registered_platform()
    flow.send("ECOM_ORDER")
    flow.send("ECOM_DECLARATION", edit=lambda root: (low_value(root), set_values(root, "quantity", {1: "5"})))

    (notice,) = flow.sent("LANE_NOTICE", LOGISTICS)
    assert text(notice, "lane") == ["YELLOW"]
    assert "RP_ORDER_MISMATCH" in text(notice, "code")
    assert [f["code"] for f in flow.decision()["record"]["findings"]] == ["QUANTITY_MISMATCH"]
    assert "mismatch" not in etree.tostring(notice).decode()  # the profile's conditions are never shown


def test_a_risk_profile_sends_the_declaration_to_red_and_alerts_the_managing_unit(flow: Flow) -> None:
    flow.registered_platform()
    flow.send("ECOM_ORDER")
    cheap_lipstick = {3: "90000"}  # 3 pieces: 30,000 VND each, under the profile's 50,000
    flow.send("ECOM_DECLARATION", edit=lambda root: (low_value(root), set_values(root, "customsValueVND", cheap_lipstick)))

    (notice,) = flow.sent("LANE_NOTICE", LOGISTICS)
    assert text(notice, "lane") == ["RED"]
    assert "RP_COSMETICS_KR_VALUE" in text(notice, "code")
    (alert,) = flow.sent("RISK_ALERT", "HQHCM")
    assert text(alert, "declarationNumber") == [NUMBER]


def test_an_unregistered_platform_is_a_finding(flow: Flow) -> None:
    flow.send("ECOM_ORDER")
    flow.send("ECOM_DECLARATION", edit=low_value)

    assert text(flow.sent("LANE_NOTICE", LOGISTICS)[0], "lane") == ["YELLOW"]
    assert [f["code"] for f in flow.decision()["record"]["findings"]] == ["PLATFORM_NOT_REGISTERED"]


def test_a_cancelled_declaration_gets_function_24(flow: Flow) -> None:
    flow.registered_platform()
    flow.send("ECOM_ORDER")
    flow.send("ECOM_DECLARATION", edit=low_value)
    flow.send("ECOM_DECLARATION", edit=lambda root: set_values(root, "function", {1: "03"}))

    (confirmation,) = flow.sent("RESULT_NOTICE", LOGISTICS)
    assert text(confirmation, "outcome") == ["CANCELLED"]
    assert flow.declaration_status() == "cancelled"
    with flow.services.engine.connect() as connection:
        assert connection.execute(select(outbox.c.function).where(outbox.c.document_type == "RESULT_NOTICE")).scalar_one() == "24"


def test_only_the_declarant_may_cancel(flow: Flow) -> None:
    flow.registered_platform()
    flow.send("ECOM_ORDER")
    flow.send("ECOM_DECLARATION", edit=low_value)
    flow.send("ECOM_DECLARATION", party="0312345678", edit=lambda root: set_values(root, "function", {1: "03"}))

    (refusal,) = flow.sent("RESULT_NOTICE", "0312345678")
    assert text(refusal, "outcome") == ["REJECTED"]
    assert flow.declaration_status() == "decided"
    with flow.services.engine.connect() as connection:
        functions = connection.execute(select(outbox.c.function).where(outbox.c.document_type == "RESULT_NOTICE")).scalars()
        assert list(functions) == ["26"]  # a decision: the catalogue allows RESULT_NOTICE 23, 24, 26, 29


def passed_by_bct(line: int, hs_code: str) -> Callable[[etree._Element], None]:
    """The sample inspection result, as BCT's pass for one line of the declaration."""

    def edit(root: etree._Element) -> None:
        set_values(root, "code", {1: "BCT"})  # inspectionAuthority/cm:code
        set_values(root, "lineNumber", {1: str(line)})
        set_values(root, "hsCode", {1: hs_code})

    return edit


def test_an_amendment_after_its_awaited_results_passed_completes_the_declaration(flow: Flow) -> None:
    flow.registered_platform()
    flow.send("ECOM_ORDER")
    flow.send("ECOM_DECLARATION", edit=lambda root: set_values(root, "customsValueVND", {6: "1500000"}))
    flow.send("INSPECTION_RESULT", party="BCT", edit=passed_by_bct(2, "85183090"))
    assert flow.declaration_status() == "awaiting_inspection"  # line 6 (toys above the threshold) still waits

    flow.send("ECOM_DECLARATION", edit=lambda root: set_values(root, "function", {1: "02"}))  # line 6 back under it

    (notice,) = flow.sent("RESULT_NOTICE", LOGISTICS)
    assert text(notice, "outcome") == ["COMPLETED"]
    assert flow.declaration_status() == "completed"


def test_a_random_selection_replays_identically_from_its_record(flow: Flow, tmp_path: Path) -> None:
    risk = tmp_path / "risk.toml"
    risk.write_text(re.sub(r"(?m)^minimum_rate_percent = .*$", "minimum_rate_percent = 100.0", risk.read_text("utf-8")), "utf-8")
    flow.registered_platform()
    flow.send("ECOM_ORDER")
    flow.send("ECOM_DECLARATION", edit=low_value)

    record = flow.decision()["record"]
    assert record["random"]["selected"] and record["lane"] == "YELLOW"
    assert "RANDOM_SELECTION" in text(flow.sent("LANE_NOTICE", LOGISTICS)[0], "code")
    assert replay(record) == {}


def test_the_lane_notice_and_the_declaration_copy_are_shared_by_subscription(flow: Flow) -> None:
    flow.registered_platform()
    flow.send("ECOM_ORDER")
    flow.send("ECOM_DECLARATION")  # line 2 (1,207,170 VND, HS 8518) needs BCT's inspection

    assert len(flow.sent("LANE_NOTICE", "VNSW")) == 1
    assert text(flow.sent("ECOM_DECLARATION", "BCT")[0], "declarationNumber") == [NUMBER]
    assert flow.sent("ECOM_DECLARATION", "BYT") == []  # nothing of BYT's to inspect
    assert flow.declaration_status() == "awaiting_inspection"
