"""Judging one step: does the door's answer show the expected outcome, and can it be trusted?

The receipt must be signed by a certificate that chains to the run's trust
anchors (and, when one is pinned, by the gateway's own certificate); its
status and error codes must match the expectation exactly (as a set: a
rejection lists every problem, each code once or more); it must name the SHA-256
of the bytes sent and the message id they carry; and what the door says
besides the receipt (HTTP status and headers, the SOAP response's fields)
must agree with it; and when the step bounds it, it must come in time.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from conformance.suite import spec
from conformance.suite.builder import Message
from conformance.suite.doors import Response
from conformance.suite.model import Expectation
from gateway.client import ReceiptView, read_receipt
from gateway.exceptions import ReceiptError
from gateway.signing.trust import TrustStore

REFUSED_UNREAD = frozenset({"CONTENT_TYPE_UNSUPPORTED", "REQUEST_TOO_LARGE"})
"""Codes of a refusal at the door, before the body is read: the receipt's digest may be that of nothing."""


@dataclass(frozen=True)
class Verdict:
    actual: str
    errors: tuple[str, ...]
    mismatches: tuple[str, ...]
    receipt: ReceiptView | None


@dataclass(frozen=True)
class ReceiptCheck:
    """The run's trust in receipts: its anchors, and optionally the gateway's pinned certificate (DER)."""

    trust: TrustStore
    gateway_certificate: bytes | None = None

    def read(self, data: bytes) -> ReceiptView:
        return read_receipt(data, self.trust, self.gateway_certificate)


def judge(
    expect: Expectation,
    message: Message,
    response: Response,
    receipts: ReceiptCheck,
    earlier_receipts: Mapping[str, bytes],
    seconds: float = 0.0,
) -> Verdict:
    """The verdict on one step's answer, which took `seconds` to come."""
    if not expect.answered:
        if response.receipt is None:
            return Verdict("nothing delivered", (), (), None)
        problem = "a message was delivered to the queue named in reply_to, which the run named itself"
        return Verdict("a message delivered", (), (problem,), None)
    if response.receipt is None:
        problem = response.problem or "the answer was empty"
        return Verdict(f"no receipt ({problem})", (), (f"no receipt: {problem}",), None)
    try:
        receipt = receipts.read(response.receipt)
    except ReceiptError as exc:
        return Verdict("a receipt that cannot be trusted", (), (f"the receipt cannot be trusted: {exc}",), None)

    codes = frozenset(receipt.codes)
    accepted = receipt.status == "ACCEPTED"
    status = _status_for(accepted, codes)
    actual = (
        f"accepted (HTTP {status})"
        if accepted
        else f"rejected: {', '.join(sorted(codes)) or 'no code'} (HTTP {status})"
    )
    mismatches = _outcome(expect, accepted, codes)
    mismatches += _receipt_itself(receipt, message, accepted, codes)
    mismatches += _door_account(response, receipt, accepted, status)
    if expect.within_s is not None and seconds > expect.within_s:
        mismatches.append(
            f"the receipt came {seconds:.1f} s after the message was sent, not within {expect.within_s:g} s"
        )
    if expect.same_receipt_as and response.receipt != earlier_receipts.get(expect.same_receipt_as):
        mismatches.append(f"the receipt differs from the one step {expect.same_receipt_as!r} got")
    errors = tuple(
        f"{code}: {text}" + (f" ({location})" if location else "") for code, text, location in receipt.errors
    )
    return Verdict(actual, errors, tuple(mismatches), receipt)


def _outcome(expect: Expectation, accepted: bool, codes: frozenset[str]) -> list[str]:
    if expect.accepted and not accepted:
        return [f"expected acceptance, got a rejection with {', '.join(sorted(codes))}"]
    if not expect.accepted and accepted:
        return [f"expected a rejection with {', '.join(sorted(expect.codes))}, got an acceptance"]
    if not expect.accepted and codes != expect.codes:
        missing, extra = sorted(expect.codes - codes), sorted(codes - expect.codes)
        return [
            f"error codes {sorted(codes)} instead of {sorted(expect.codes)} (missing {missing}, unexpected {extra})"
        ]
    return []


def _receipt_itself(receipt: ReceiptView, message: Message, accepted: bool, codes: frozenset[str]) -> list[str]:
    mismatches = []
    if (receipt.status, receipt.function) not in (("ACCEPTED", "99"), ("REJECTED", "22")):
        mismatches.append(f"a receipt with status {receipt.status!r} and function {receipt.function!r}")
    digests = {_digest(message.body)} | ({_digest(b"")} if codes & REFUSED_UNREAD else set())
    if receipt.digest not in digests:
        mismatches.append("the receipt's digest is not the SHA-256 of the bytes sent")
    named = receipt.received_message_id
    if (accepted or named is not None) and message.message_id is not None and named != message.message_id:
        mismatches.append(f"the receipt names message {named!r}, the message sent was {message.message_id!r}")
    return mismatches


def _door_account(response: Response, receipt: ReceiptView, accepted: bool, status: int | None) -> list[str]:
    """What the door says besides the receipt must agree with it."""
    mismatches = []
    if response.problem:
        mismatches.append(f"the receipt came in a failure answer: {response.problem}")
    if response.http_status is not None and status is not None and response.http_status != status:
        mismatches.append(f"HTTP status {response.http_status}, but the receipt's outcome calls for {status}")
    if response.claimed_accepted is not None and response.claimed_accepted != accepted:
        mismatches.append("the door's accepted flag contradicts the receipt")
    codes_in_order = tuple(dict.fromkeys(receipt.codes))
    if response.claimed_codes is not None and response.claimed_codes != codes_in_order:
        mismatches.append(f"the door names codes {list(response.claimed_codes)}, the receipt {list(codes_in_order)}")
    return mismatches


def _status_for(accepted: bool, codes: frozenset[str]) -> int | None:
    """The HTTP status an outcome calls for (None for codes the catalogue does not have)."""
    if accepted:
        return 200
    return spec.http_status(codes) if codes and codes <= spec.ERROR_CODES else None


def _digest(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
