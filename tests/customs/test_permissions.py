"""Read permissions on both stores: who sees which messages and decisions about a reference, and the refusals.

The scenario: a logistics firm declared 107012345670 for an order a marketplace sent;
its line 2 (Bluetooth headphones, HS 8518) needed the Ministry of Industry and Trade's
inspection; the gateway sent the declarant its lane notice and the ministry a copy. A
trader declared 107012345671 with goods no ministry is in charge of.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from business import Exchange
from rows import ORDER, accept, decided, decision, declaration, declared_flow, in_context, inspection, item, order
from support import REPO, MessageFactory

from conformance import SAMPLES_DIR
from customs.permissions import readable
from customs.rules import BusinessRules, business_rules
from customs.sharing import share
from gateway import client
from gateway.envelope import content_element, qname
from gateway.exceptions import ReadRefused
from gateway.outbound.compose import Subject
from gateway.parties import Party
from gateway.pipeline import Pipeline
from gateway.services import Services

pytestmark = pytest.mark.stores("sqlite")  # business: SQLite; the PostgreSQL cross-checks are marked (tests/conftest.py)

NUMBER, OTHER_NUMBER = "107012345670", "107012345671"
LOGISTICS, MARKETPLACE, TRADER = "0309876543", "0101234567", "0312345678"
RULES = business_rules(REPO / "config" / "business.toml")


@dataclass(frozen=True)
class Scenario:
    declaration: str  # the messageId of 107012345670
    other_declaration: str
    order: str
    notice: str  # the lane notice to the declarant
    copy: str  # the declaration's copy to BCT


def renumbered(root) -> None:  # type: ignore[no-untyped-def]
    root.find(f"{qname('Header')}/{qname('Subject')}/{qname('reference')}").text = OTHER_NUMBER
    next(root.iter("{*}declarationNumber")).text = OTHER_NUMBER


@pytest.fixture
def scenario(pipeline: Pipeline, messages: MessageFactory, services: Services) -> Scenario:
    declared = accept(pipeline, messages, "ECOM_DECLARATION")
    other = accept(pipeline, messages, "ECOM_DECLARATION", TRADER, renumbered)
    ordered = accept(pipeline, messages, "ECOM_ORDER")
    now = dt.datetime.now(dt.UTC)
    goods = [
        item(1, "39269099", 349790),
        item(2, "85183090", 1207170),
        item(3, "33041000", 670650),
        item(4, "21069072", 946800),
    ]
    notice_payload = content_element(client.load_envelope(SAMPLES_DIR / "LANE_NOTICE.xml"))
    declaration_payload = content_element(client.load_envelope(SAMPLES_DIR / "ECOM_DECLARATION.xml"))

    def arrange(context) -> tuple[str, str]:  # type: ignore[no-untyped-def]
        tx = context.tx
        order(tx, ordered.pk, MARKETPLACE, [g["hs_code"] for g in goods], at=now)
        declaration(tx, NUMBER, LOGISTICS, declared.pk, goods, at=now, lane="YELLOW", status="awaiting_inspection")
        items = [decided(g, "EXEMPT", "DE_MINIMIS_1M") for g in goods]
        items[1] = decided(goods[1], "INSPECTION_REQUIRED", "ABOVE_THRESHOLD", "BCT")
        decision(tx, NUMBER, "YELLOW", items, at=now)
        inspection(tx, NUMBER, 2, "85183090", "BCT")
        clothes = [item(1, "39269099", 349790, "VS-260309-0091848"), item(2, "62014090", 841600, "VS-260309-0091848")]
        declaration(tx, OTHER_NUMBER, TRADER, other.pk, clothes, at=now, lane="GREEN")
        decision(tx, OTHER_NUMBER, "GREEN", [decided(c, "EXEMPT", "DE_MINIMIS_1M") for c in clothes], at=now)
        notice = context.emit(LOGISTICS, Subject("LANE_NOTICE", "26", NUMBER, declared.message_id), notice_payload)
        (copy,) = share(
            context,
            "ECOM_DECLARATION",
            "01",
            declaration_payload,
            reference=NUMBER,
            pre_reference=declared.message_id,
            inspecting_ministries=frozenset({"BCT"}),
        )
        return notice.message_id, copy

    notice, copy = in_context(services, arrange)
    return Scenario(declared.message_id, other.message_id, ordered.message_id, notice, copy)


def read(
    services: Services, party: str, reference: str, rules: BusinessRules | None = RULES
) -> list[tuple[str, str, str | None]]:
    """(source, document type, message id) of what `party` may read, oldest first."""
    reader = services.parties.get(party)
    assert reader is not None
    with services.engine.connect() as connection:
        return [
            (e["source"], e["document_type"], e["message_id"])
            for e in readable(connection, reader, reference, rules=rules)
        ]


def refusal(services: Services, party: str, reference: str, rules: BusinessRules | None = RULES) -> str:
    with pytest.raises(ReadRefused) as refused:
        read(services, party, reference, rules)
    return refused.value.reason


def everything(s: Scenario) -> list[tuple[str, str, str | None]]:
    return [
        ("inbound", "ECOM_DECLARATION", s.declaration),
        ("decision", "DECISION", None),
        ("outbound", "LANE_NOTICE", s.notice),
        ("outbound", "ECOM_DECLARATION", s.copy),
    ]


@pytest.mark.parametrize("party", ["HQHCM", "OPS"])
def test_customs_and_operators_read_everything(services: Services, scenario: Scenario, party: str) -> None:
    assert read(services, party, NUMBER) == everything(scenario)


def test_the_declarant_reads_its_declaration_and_the_notice_sent_to_it_but_not_the_decision_or_copies(
    services: Services, scenario: Scenario
) -> None:
    own = [("inbound", "ECOM_DECLARATION", scenario.declaration), ("outbound", "LANE_NOTICE", scenario.notice)]
    assert read(services, LOGISTICS, NUMBER) == own
    assert read(services, LOGISTICS, scenario.declaration) == own  # by messageId: the message and the replies to it


def test_a_marketplace_may_not_read_another_partys_declaration(services: Services, scenario: Scenario) -> None:
    reason = refusal(services, MARKETPLACE, NUMBER)

    assert reason == f"nothing about {NUMBER} may be read by {MARKETPLACE}"
    # the same words as for a declaration that does not exist: a refusal tells nothing
    assert refusal(services, MARKETPLACE, "107099999999") == reason.replace(NUMBER, "107099999999")
    assert read(services, MARKETPLACE, ORDER) == [("inbound", "ECOM_ORDER", scenario.order)]  # its own order


def test_other_parties_read_only_their_own_messages(services: Services, scenario: Scenario) -> None:
    refusal(services, TRADER, NUMBER)
    refusal(services, LOGISTICS, ORDER)  # it declared the order, but the marketplace sent it
    refusal(services, LOGISTICS, scenario.order)
    assert read(services, TRADER, OTHER_NUMBER) == [("inbound", "ECOM_DECLARATION", scenario.other_declaration)]


def test_the_ministry_that_must_inspect_reads_the_declaration_its_decision_and_its_order(
    services: Services, scenario: Scenario
) -> None:
    assert read(services, "BCT", NUMBER, rules=None) == everything(scenario)
    assert read(services, "BCT", ORDER, rules=None) == [("inbound", "ECOM_ORDER", scenario.order)]


def test_a_ministry_reads_declarations_of_goods_under_its_authority_given_the_rules(
    services: Services, scenario: Scenario
) -> None:
    refusal(services, "BYT", NUMBER, rules=None)  # no inspection of its own; the decision names no item of its

    assert read(services, "BYT", NUMBER) == everything(scenario)  # cosmetics (3304) and food supplements (2106)
    assert read(services, "BYT", ORDER) == [("inbound", "ECOM_ORDER", scenario.order)]


@pytest.mark.parametrize("ministry", ["BYT", "BCT"])
def test_a_ministry_may_not_read_a_declaration_without_its_goods(
    services: Services, scenario: Scenario, ministry: str
) -> None:
    assert refusal(services, ministry, OTHER_NUMBER) == f"nothing about {OTHER_NUMBER} may be read by {ministry}"
    refusal(services, ministry, scenario.other_declaration)


def test_a_suspended_party_reads_nothing(services: Services, scenario: Scenario) -> None:
    suspended = Party(LOGISTICS, "Sài Gòn Express", "VN", frozenset({"logistics"}), status="suspended")
    with services.engine.connect() as connection, pytest.raises(ReadRefused, match="suspended"):
        readable(connection, suspended, NUMBER)


def test_entries_carry_the_signed_bodies_and_decision_records(services: Services, scenario: Scenario) -> None:
    customs = services.parties.get("HQHCM")
    assert customs is not None
    with services.engine.connect() as connection:
        entries = {e["source"]: e for e in readable(connection, customs, NUMBER)}

    assert entries["inbound"]["sender"] == LOGISTICS and b"<ds:Signature" in entries["inbound"]["body"]
    assert entries["decision"]["status"] == "YELLOW" and entries["decision"]["record"]["items"][1]["ministry"] == "BCT"
    assert entries["outbound"]["sender"] == "VNECOMGW"
    assert all(e["at"].tzinfo is not None for e in entries.values())


def test_on_a_real_flow_the_inspecting_ministry_reads_the_declaration_and_the_marketplace_is_refused(
    exchange: Exchange, services: Services
) -> None:
    declared = declared_flow(exchange)["ECOM_DECLARATION"].message_id  # through intake and the handlers

    refusal(services, MARKETPLACE, NUMBER)
    assert [kind for kind, _, _ in read(services, LOGISTICS, NUMBER)] == [
        "inbound",
        "outbound",
    ]  # its declaration, its notice
    inspecting = read(
        services, "BCT", NUMBER, rules=None
    )  # line 2 (HS 8518, above the threshold) awaits its inspection
    assert ("inbound", "ECOM_DECLARATION", declared) in inspecting and ("decision", "DECISION", None) in inspecting
    assert {(source, document_type) for source, document_type, _ in inspecting} >= {
        ("outbound", "LANE_NOTICE"),
        ("outbound", "ECOM_DECLARATION"),
    }
