"""Entitlement at intake (the `entitle` stage): refusals are signed rejections with NOT_ENTITLED, on both stores.

The sender's role allows each of these documents; what is refused is a ministry
reporting on goods another ministry is in charge of, a notice in another ministry's
name, and a marketplace registering or changing a platform it does not operate.
"""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree
from sqlalchemy import insert, select
from support import MessageFactory

from customs.state import platforms, policy_entries
from gateway import client
from gateway.envelope import content_element
from gateway.pipeline import Outcome, Pipeline, Transport
from gateway.store.tables import messages as messages_table

pytestmark = pytest.mark.stores("sqlite")  # business: SQLite; the PostgreSQL cross-checks are marked (tests/conftest.py)

HTTP = Transport("http")
MARKETPLACE = "0101234567"
OTHER_OPERATOR = "0109999999"
CM_NS = "urn:customs.gov.vn:ecom:common:1"
AUTHORITY = "p:inspectionAuthority/cm:code"
HS_CODE = "p:items/p:item/p:hsCode"
OPERATOR = "p:operator/cm:id"


def submit(
    pipeline: Pipeline, messages: MessageFactory, document_type: str, party: str, texts: dict[str, str] | None = None
) -> Outcome:
    """A sample from `party`, with payload texts replaced: {path below the payload ("p:" its namespace): text}."""

    def edit(root: etree._Element) -> None:
        payload = content_element(root)
        for path, value in (texts or {}).items():
            element = payload.find(path, {"p": etree.QName(payload).namespace, "cm": CM_NS})
            assert element is not None, path
            element.text = value

    return pipeline.submit(messages.signed(document_type, party, edit), HTTP)


def refused(pipeline: Pipeline, outcome: Outcome) -> list[tuple[str, str, str | None]]:
    """The errors of a rejection, read from the receipt after checking its signature; nothing was stored."""
    assert not outcome.accepted and outcome.status == 403 and outcome.codes == ("NOT_ENTITLED",)
    receipt = client.read_receipt(outcome.receipt, pipeline.services.trust)
    assert receipt.status == "REJECTED" and receipt.function == "22"
    with pipeline.services.engine.connect() as connection:
        assert (
            connection.execute(
                select(messages_table.c.id).where(messages_table.c.message_id == outcome.message_id)
            ).first()
            is None
        )
    return list(receipt.errors)


def stored_pk(pipeline: Pipeline, messages: MessageFactory) -> int:
    """A stored message for rows that must name one."""
    outcome = pipeline.submit(messages.signed("ECOM_ORDER"), HTTP)
    assert outcome.accepted
    stored = pipeline.services.store.get(MARKETPLACE, str(outcome.message_id))
    assert stored is not None
    return stored.pk


# --- INSPECTION_RESULT ------------------------------------------------------------------


def test_the_ministry_in_charge_may_send_the_inspection_result(pipeline: Pipeline, messages: MessageFactory) -> None:
    assert submit(pipeline, messages, "INSPECTION_RESULT", "BYT").accepted


def test_a_ministry_not_in_charge_of_the_goods_may_not(pipeline: Pipeline, messages: MessageFactory) -> None:
    outcome = submit(pipeline, messages, "INSPECTION_RESULT", "BCT", {AUTHORITY: "BCT"})
    ((code, message, location),) = refused(pipeline, outcome)
    assert code == "NOT_ENTITLED"
    assert "21069072" in message and "in the charge of BYT, not of BCT" in message
    assert "/env:Envelope/env:Body/env:Content/inspectionresult:InspectionResult/inspectionresult:items" in location
    assert location.split(" (")[0].endswith("/inspectionresult:item/inspectionresult:hsCode")


def test_the_inspection_authority_must_be_the_sender(pipeline: Pipeline, messages: MessageFactory) -> None:
    outcome = submit(pipeline, messages, "INSPECTION_RESULT", "BYT", {AUTHORITY: "BCT"})
    ((_, message, location),) = refused(pipeline, outcome)
    assert "'BCT' is not the sender 'BYT'" in message and location.split(" (")[0].endswith("inspectionresult:inspectionAuthority/cm:code")


def test_a_ministry_that_listed_goods_as_an_exception_is_in_charge_of_them(
    pipeline: Pipeline, messages: MessageFactory
) -> None:
    clothing = {HS_CODE: "62014090", AUTHORITY: "BCT"}  # no authority is configured for 6201
    assert (
        "in the charge of no ministry"
        in refused(pipeline, submit(pipeline, messages, "INSPECTION_RESULT", "BCT", clothing))[0][1]
    )
    now = dt.datetime.now(dt.UTC)
    with pipeline.services.engine.begin() as connection:
        connection.execute(
            insert(policy_entries).values(
                notice="9/TB-BCT", ministry="BCT", entry_id="E1", kind="exception", hs_prefix="6201",
                effective_from=now, recorded_at=now, message=stored_pk(pipeline, messages),
            )
        )  # fmt: skip

    assert submit(pipeline, messages, "INSPECTION_RESULT", "BCT", clothing).accepted
    refused(pipeline, submit(pipeline, messages, "INSPECTION_RESULT", "BYT", {HS_CODE: "62014090"}))


# --- POLICY_NOTICE --------------------------------------------------------------------------


def test_a_ministry_sends_only_its_own_policy_notices(pipeline: Pipeline, messages: MessageFactory) -> None:
    ((_, message, location),) = refused(pipeline, submit(pipeline, messages, "POLICY_NOTICE", "BCT"))
    assert "issued by 'BYT'" in message and location.split(" (")[0].endswith("policynotice:PolicyNotice/policynotice:ministry/cm:code")
    assert submit(pipeline, messages, "POLICY_NOTICE", "BCT", {"p:ministry/cm:code": "BCT"}).accepted


# --- PLATFORM_REGISTRATION ---------------------------------------------------------------------


def test_a_marketplace_registers_only_platforms_it_operates(pipeline: Pipeline, messages: MessageFactory) -> None:
    outcome = submit(pipeline, messages, "PLATFORM_REGISTRATION", MARKETPLACE, {OPERATOR: OTHER_OPERATOR})
    ((_, message, location),) = refused(pipeline, outcome)
    assert OTHER_OPERATOR in message and location.split(" (")[0].endswith("platformregistration:PlatformRegistration/platformregistration:operator/cm:id")
    assert submit(pipeline, messages, "PLATFORM_REGISTRATION", "BCT", {OPERATOR: OTHER_OPERATOR}).accepted


@pytest.mark.parametrize(("status", "allowed"), [("ACTIVE", False), ("SUSPENDED", False), ("CANCELLED", True)])
def test_a_registered_platform_is_changed_only_by_its_operator_or_a_ministry(
    status: str, allowed: bool, pipeline: Pipeline, messages: MessageFactory
) -> None:
    with pipeline.services.engine.begin() as connection:
        connection.execute(
            insert(platforms).values(
                platform_id="VIETSHOP", name="VietShop", operator=OTHER_OPERATOR, country="VN", status=status, facts={},
                sender="BCT", message=stored_pk(pipeline, messages), updated_at=dt.datetime.now(dt.UTC),
            )
        )  # fmt: skip

    def amend(party: str) -> Outcome:
        return submit(pipeline, messages, "PLATFORM_REGISTRATION", party)

    if allowed:
        assert amend(MARKETPLACE).accepted
    else:
        ((_, message, _),) = refused(pipeline, amend(MARKETPLACE))
        assert f"registered to operator '{OTHER_OPERATOR}'" in message
    assert amend("BCT").accepted
