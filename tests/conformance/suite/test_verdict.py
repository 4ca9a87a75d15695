"""Judging an answer: the outcome must match exactly, and the receipt and the door must be trustworthy and agree."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance import attacks
from conformance.suite.builder import Builder, Message
from conformance.suite.doors import Response
from conformance.suite.model import Case, Expectation, Step
from conformance.suite.verdict import ReceiptCheck, judge
from gateway.signing.keys import SigningIdentity, der_of
from gateway.signing.trust import TrustStore

from ..conftest import SuiteIdentities, receipt_for


@pytest.fixture(scope="module")
def message(builder: Builder) -> Message:
    case = Case("x.v", "t", "c", "w", ("xml",), (Step("message", Expectation(True), sample="ECOM_DECLARATION"),))
    (prepared,) = builder.prepare(case)
    return builder.build(prepared, {})


@pytest.fixture(scope="module")
def gateway_identity(identity: Callable[[str], SigningIdentity]) -> SigningIdentity:
    return identity("VNECOMGW")


@pytest.fixture(scope="module")
def receipts(suite_identities: SuiteIdentities) -> ReceiptCheck:
    return ReceiptCheck(TrustStore.from_files([suite_identities.ca]))


def test_an_acceptance_as_expected_passes(
    message: Message, gateway_identity: SigningIdentity, receipts: ReceiptCheck
) -> None:
    response = Response(receipt_for(message, gateway_identity), 200, True, ())

    verdict = judge(Expectation(True), message, response, receipts, {})

    assert verdict.mismatches == () and verdict.actual == "accepted (HTTP 200)"


def test_a_rejection_with_exactly_the_expected_codes_passes(
    message: Message, gateway_identity: SigningIdentity, receipts: ReceiptCheck
) -> None:
    receipt = receipt_for(message, gateway_identity, "CERTIFICATE_UNTRUSTED", "CERTIFICATE_NOT_REGISTERED")
    response = Response(receipt, 403, False, ("CERTIFICATE_UNTRUSTED", "CERTIFICATE_NOT_REGISTERED"))

    verdict = judge(
        Expectation(False, frozenset({"CERTIFICATE_NOT_REGISTERED", "CERTIFICATE_UNTRUSTED"})),
        message,
        response,
        receipts,
        {},
    )

    assert verdict.mismatches == ()
    assert verdict.errors == ("CERTIFICATE_UNTRUSTED: why", "CERTIFICATE_NOT_REGISTERED: why")


@pytest.mark.parametrize(
    ("expect", "codes", "status", "complaint"),
    [
        (Expectation(False, frozenset({"SIGNATURE_INVALID"})), (), 200, "got an acceptance"),
        (Expectation(True), ("SIGNATURE_INVALID",), 403, "expected acceptance"),
        (
            Expectation(False, frozenset({"SIGNATURE_INVALID"})),
            ("SIGNATURE_DIGEST_MISMATCH",),
            403,
            "unexpected ['SIGNATURE_DIGEST_MISMATCH']",
        ),
        (
            Expectation(False, frozenset({"CERTIFICATE_UNTRUSTED", "CERTIFICATE_NOT_REGISTERED"})),
            ("CERTIFICATE_UNTRUSTED",),
            403,
            "missing ['CERTIFICATE_NOT_REGISTERED']",
        ),
    ],
)
def test_another_outcome_fails(
    message: Message,
    gateway_identity: SigningIdentity,
    receipts: ReceiptCheck,
    expect: Expectation,
    codes: tuple[str, ...],
    status: int,
    complaint: str,
) -> None:
    response = Response(receipt_for(message, gateway_identity, *codes), status, not codes, codes)

    verdict = judge(expect, message, response, receipts, {})

    assert any(complaint in mismatch for mismatch in verdict.mismatches), verdict.mismatches


@pytest.mark.parametrize(
    ("response_of", "complaint"),
    [
        (lambda receipt: Response(receipt, 422, False, ("SIGNATURE_INVALID",)), "HTTP status 422"),
        (lambda receipt: Response(receipt, 403, True, ("SIGNATURE_INVALID",)), "accepted flag contradicts"),
        (lambda receipt: Response(receipt, 403, False, ("XML_MALFORMED",)), "the door names codes"),
        (
            lambda receipt: Response(receipt, None, False, ("SIGNATURE_INVALID",), problem="SOAP fault"),
            "failure answer",
        ),
        (lambda receipt: Response(None, 502, problem="bad gateway"), "no receipt: bad gateway"),
        (lambda receipt: Response(receipt[:-20], 403), "cannot be trusted"),
    ],
)
def test_the_door_must_agree_with_the_receipt(
    message: Message,
    gateway_identity: SigningIdentity,
    receipts: ReceiptCheck,
    response_of: Callable[[bytes], Response],
    complaint: str,
) -> None:
    receipt = receipt_for(message, gateway_identity, "SIGNATURE_INVALID")

    verdict = judge(Expectation(False, frozenset({"SIGNATURE_INVALID"})), message, response_of(receipt), receipts, {})

    assert any(complaint in mismatch for mismatch in verdict.mismatches), verdict.mismatches


def test_a_receipt_signed_outside_the_trust_anchors_fails(message: Message, receipts: ReceiptCheck) -> None:
    impostor = attacks.foreign_ca_identity("Impostor gateway", "VNECOMGW")

    verdict = judge(Expectation(True), message, Response(receipt_for(message, impostor)), receipts, {})

    assert verdict.mismatches and "cannot be trusted" in verdict.mismatches[0]


def test_a_pinned_gateway_certificate_is_enforced(
    message: Message, identity: Callable[[str], SigningIdentity], suite_identities: SuiteIdentities
) -> None:
    """A receipt signed by another party of the same PKI is trusted, but not the gateway's own."""
    pinned = ReceiptCheck(TrustStore.from_files([suite_identities.ca]), der_of(identity("VNECOMGW").certificate))

    verdict = judge(Expectation(True), message, Response(receipt_for(message, identity("VNSW"))), pinned, {})

    assert "gateway's registered certificate" in " ".join(verdict.mismatches)


def test_the_receipt_must_name_the_digest_of_what_was_sent(
    message: Message, gateway_identity: SigningIdentity, receipts: ReceiptCheck
) -> None:
    response = Response(receipt_for(message, gateway_identity, body=b"something else"), 200, True, ())

    verdict = judge(Expectation(True), message, response, receipts, {})

    assert verdict.mismatches == ("the receipt's digest is not the SHA-256 of the bytes sent",)


def test_a_resend_must_get_the_same_receipt(
    message: Message, gateway_identity: SigningIdentity, receipts: ReceiptCheck
) -> None:
    first, second = receipt_for(message, gateway_identity), receipt_for(message, gateway_identity)
    expect = Expectation(True, same_receipt_as="original")

    assert judge(expect, message, Response(first, 200, True, ()), receipts, {"original": first}).mismatches == ()
    assert judge(expect, message, Response(second, 200, True, ()), receipts, {"original": first}).mismatches == (
        "the receipt differs from the one step 'original' got",
    )
