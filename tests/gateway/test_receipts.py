"""Receipts: signed, schema-valid, and faithful to what they acknowledge, whatever the input held."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway import client, xmlsafe
from gateway.envelope import Header, PartyRef, content_element, read_header
from gateway.errors import ErrorCode, Problem
from gateway.receipts import ReceiptBuilder
from gateway.schemas.registry import SchemaRegistry
from gateway.signing.keys import SigningIdentity, load_certificates
from gateway.signing.trust import TrustStore

GATEWAY = PartyRef("VNECOMGW", "Hệ thống TMĐT Hải quan Việt Nam", "VN")
SENDER = PartyRef("0309876543", "Công ty CP Giao nhận <Sài Gòn> & Express", "VN")
HEADER = Header("1.0", "6e4f2a9b-8d1c-4b7e-a3f5-1c2d3e4f5a03", SENDER, GATEWAY, "ECOM_DECLARATION", "01", reference="107012345670")
DIGEST = hashlib.sha256(b"the bytes received").digest()
AT = dt.datetime(2026, 11, 23, 8, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load()


@pytest.fixture
def builder(identity: Callable[[str], SigningIdentity]) -> ReceiptBuilder:
    return ReceiptBuilder(GATEWAY, identity("VNECOMGW"))


@pytest.fixture
def trust(pki_dir: Path) -> TrustStore:
    return TrustStore(load_certificates(pki_dir / "ca.pem"))


def _valid(registry: SchemaRegistry, body: bytes) -> None:
    root = xmlsafe.parse(body)
    assert registry.validate_envelope(root) == []
    assert registry.validate_payload(registry.get("RECEIPT"), content_element(root)) == []


def test_an_acceptance_is_signed_valid_and_names_what_it_acknowledges(
    builder: ReceiptBuilder, registry: SchemaRegistry, trust: TrustStore
) -> None:
    receipt = builder.acceptance(HEADER, DIGEST, AT)

    _valid(registry, receipt.body)
    view = client.read_receipt(receipt.body, trust)
    header = read_header(xmlsafe.parse(receipt.body))
    assert (view.status, view.function, view.signer) == ("ACCEPTED", "99", "VNECOMGW")
    assert view.received_message_id == HEADER.message_id
    assert header.pre_reference == HEADER.message_id and header.reference == "107012345670"
    assert header.recipient.identity == SENDER.identity and header.message_id == receipt.message_id
    assert base64.b64decode(view.digest) == DIGEST


def test_a_rejection_lists_every_problem_and_escapes_what_the_sender_wrote(
    builder: ReceiptBuilder, registry: SchemaRegistry, trust: TrustStore
) -> None:
    hostile = 'value "<x>&amp;</x>" ]]> \x07 bell'
    problems = (
        Problem(ErrorCode.PAYLOAD_SCHEMA_INVALID, hostile, "line 12, /Envelope/Body/Content/*[1]"),
        Problem(ErrorCode.SIGNATURE_INVALID, "m" * 5000),
        Problem(ErrorCode.ENVELOPE_SCHEMA_INVALID, "third", "l" * 900),
    )
    receipt = builder.rejection(HEADER, SENDER, DIGEST, AT, problems)

    _valid(registry, receipt.body)
    view = client.read_receipt(receipt.body, trust)
    assert (view.status, view.function) == ("REJECTED", "22")
    assert view.codes == ("PAYLOAD_SCHEMA_INVALID", "SIGNATURE_INVALID", "ENVELOPE_SCHEMA_INVALID")
    assert view.errors[0][1] == 'value "<x>&amp;</x>" ]]>  bell'  # the control character is dropped
    assert len(view.errors[1][1]) == 1024 and view.errors[1][2] is None
    assert len(view.errors[2][2]) == 512


@pytest.mark.parametrize(
    "sender",
    [None, PartyRef("not a valid id!", "x", "VN"), PartyRef("0309876543", "", "Viet Nam")],
    ids=["unknown", "invalid-identity", "invalid-country"],
)
def test_a_rejection_to_an_unreadable_sender_is_still_valid(
    builder: ReceiptBuilder, registry: SchemaRegistry, trust: TrustStore, sender: PartyRef | None
) -> None:
    receipt = builder.rejection(None, sender, DIGEST, AT, (Problem(ErrorCode.XML_MALFORMED, "broken"),))

    _valid(registry, receipt.body)
    view = client.read_receipt(receipt.body, trust)
    assert view.received_message_id is None and view.codes == ("XML_MALFORMED",)


def test_a_receipt_signed_by_someone_else_is_refused(
    identity: Callable[[str], SigningIdentity], trust: TrustStore, pki_dir: Path
) -> None:
    forged = ReceiptBuilder(GATEWAY, identity("0309876543")).acceptance(HEADER, DIGEST, AT)
    gateway_cert = client.certificate_der(pki_dir / "VNECOMGW.cert.pem")
    with pytest.raises(client.ReceiptError, match="gateway's registered certificate"):
        client.read_receipt(forged.body, trust, gateway_cert)
