"""Sharing on both stores: signed copies for the subscribers, by condition, never to a party holding the original."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from rows import accept, in_context
from sqlalchemy import select
from support import MessageFactory, config_with_rules

from conformance import SAMPLES_DIR
from customs.sharing import share
from gateway import client, xmlsafe
from gateway.envelope import content_element, read_header
from gateway.inbound import InboundMessage
from gateway.outbound.compose import Subject
from gateway.pipeline import Pipeline
from gateway.services import Services
from gateway.signing.verify import verify_envelope
from gateway.store.messages import StoredMessage
from gateway.store.tables import outbox

pytestmark = pytest.mark.stores("sqlite")  # business: SQLite; the PostgreSQL cross-checks are marked (tests/conftest.py)

MARKETPLACE = "0101234567"
LOGISTICS = "0309876543"
SUBSCRIPTIONS = """
[[sharing.subscription]]
party = "HQHCM"
document_types = ["ECOM_ORDER"]

[[sharing.subscription]]
party = "0101234567"
document_types = ["ECOM_ORDER"]
when = "always"

[[sharing.subscription]]
party = "NOBODY"
document_types = ["ECOM_ORDER"]

[[sharing.subscription]]
party = "HQHCM"
document_types = ["ECOM_ORDER", "LANE_NOTICE"]

[[sharing.subscription]]
party = "0309876543"
document_types = ["LANE_NOTICE"]
"""


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    """The repository's subscriptions (ministries for declarations, the NSW for lane notices) and the ones above."""
    return config_with_rules(tmp_path, pki_dir, namespace, business=lambda rules: rules + SUBSCRIPTIONS)


def copies(services: Services) -> list[dict]:
    with services.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(outbox).order_by(outbox.c.id))]


def share_inbound(services: Services, stored: StoredMessage, ministries: frozenset[str] = frozenset()) -> list[str]:
    header, payload = InboundMessage(stored).header, InboundMessage(stored).content
    assert payload is not None
    return in_context(
        services,
        lambda context: share(
            context,
            header.document_type,
            header.function,
            payload,
            reference=header.reference,
            pre_reference=header.message_id,
            inspecting_ministries=ministries,
        ),
    )


def test_a_copy_is_a_signed_envelope_from_the_gateway_with_the_original_payload(
    pipeline: Pipeline, messages: MessageFactory, services: Services
) -> None:
    order = accept(pipeline, messages, "ECOM_ORDER")

    message_ids = share_inbound(services, order)

    (copy,) = copies(services)  # HQHCM once; never the sender; NOBODY is not a party
    assert message_ids == [copy["message_id"]]
    assert (copy["recipient"], copy["document_type"], copy["function"], copy["reference"], copy["pre_reference"]) == (
        "HQHCM",
        "ECOM_ORDER",
        "01",
        "VS-260309-0091847",
        order.message_id,
    )
    root = xmlsafe.parse(copy["body"])
    header = read_header(root)
    assert (header.sender.identity, header.recipient.identity, header.pre_reference) == (
        "VNECOMGW",
        "HQHCM",
        order.message_id,
    )
    verify_envelope(root)
    original = content_element(xmlsafe.parse(order.body))
    assert etree.tostring(content_element(root), method="c14n") == etree.tostring(original, method="c14n")


@pytest.mark.parametrize(
    ("ministries", "expected"),
    [(frozenset(), []), (frozenset({"BCT"}), ["BCT"]), (frozenset({"BYT", "BCT"}), ["BYT", "BCT"])],
)
def test_a_ministry_gets_a_declaration_only_when_it_must_inspect_its_goods(
    pipeline: Pipeline, messages: MessageFactory, services: Services, ministries: frozenset[str], expected: list[str]
) -> None:
    declaration = accept(pipeline, messages, "ECOM_DECLARATION")

    share_inbound(services, declaration, ministries)

    assert [c["recipient"] for c in copies(services)] == expected


def test_the_recipient_of_a_gateway_document_gets_no_copy_of_it(services: Services) -> None:
    notice = content_element(client.load_envelope(SAMPLES_DIR / "LANE_NOTICE.xml"))
    assert notice is not None

    def decide(context) -> list[str]:  # type: ignore[no-untyped-def]
        sent = context.emit(LOGISTICS, Subject("LANE_NOTICE", "26", "107012345670"), notice)
        return share(context, "LANE_NOTICE", "26", notice, reference="107012345670", pre_reference=sent.message_id)

    in_context(services, decide)

    original, *shared = copies(services)
    assert original["recipient"] == LOGISTICS
    expected = [("VNSW", original["message_id"]), ("HQHCM", original["message_id"])]
    assert [(c["recipient"], c["pre_reference"]) for c in shared] == expected
