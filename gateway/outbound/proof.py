"""Checking the answer to a push: the recipient's signed receipt of exactly what we sent.

Non-repudiation both ways: the recipient has our signature on the message, and a
push counts as delivered only when we hold the recipient's signature on a receipt
that names our messageId and the SHA-256 of the bytes we sent. The signature must
be the recipient's: trusted (through the configured anchors or the recipient's own
CA), valid now, and made with a certificate registered to it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from gateway import xmlsafe
from gateway.client import ReceiptView, receipt_view
from gateway.exceptions import DeliveryFailed, ReceiptError, Rejected
from gateway.outbound.outbox import OutboundMessage
from gateway.outbound.push import PushAnswer
from gateway.parties import Party, PartyRegistry
from gateway.signing.binding import signer_problems
from gateway.signing.trust import TrustStore
from gateway.signing.verify import verify_envelope

# A signed rejection with one of these says "not now" rather than "never": try again later.
TRANSIENT_CODES = frozenset({"STORE_UNAVAILABLE", "INTERNAL_ERROR"})


def delivery_receipt(
    answer: PushAnswer, sent: OutboundMessage, recipient: Party, trust: TrustStore, registry: PartyRegistry
) -> ReceiptView:
    """The recipient's receipt of `sent`, or `DeliveryFailed` saying why the answer is not one."""
    receipt = _signed_by(answer, recipient, trust, registry)
    expected = base64.b64encode(hashlib.sha256(sent.body).digest()).decode("ascii")
    if not hmac.compare_digest(receipt.digest.encode(), expected.encode()):
        raise DeliveryFailed(f"the receipt's digest {receipt.digest!r} is not the SHA-256 of what was sent ({expected})")
    if not receipt.accepted:
        codes = " ".join(receipt.codes) or "no code"
        transient = answer.status >= 500 or bool(TRANSIENT_CODES & set(receipt.codes))
        raise DeliveryFailed(f"{recipient.identity} rejected the message ({codes})", final=not transient)
    if receipt.received_message_id != sent.message_id:
        raise DeliveryFailed(f"the receipt names message {receipt.received_message_id!r}, not {sent.message_id}")
    return receipt


def _signed_by(answer: PushAnswer, recipient: Party, trust: TrustStore, registry: PartyRegistry) -> ReceiptView:
    try:
        root = xmlsafe.parse(answer.body)
        signature = verify_envelope(root, tuple(recipient.certificates.values()))
        receipt = receipt_view(signature.root, answer.body)
    except Rejected as exc:
        raise DeliveryFailed(f"the answer (status {answer.status}) is not a validly signed receipt: {exc}") from None
    except ReceiptError as exc:
        raise DeliveryFailed(str(exc)) from None
    if receipt.signer != recipient.identity:
        raise DeliveryFailed(f"the receipt comes from {receipt.signer!r}, not from the recipient {recipient.identity!r}")
    problems = signer_problems(recipient.identity, recipient, signature, trust, registry)
    if problems:
        why = "; ".join(f"{p.code.name}: {p.message}" for p in problems)
        raise DeliveryFailed(f"the receipt's signature is not the recipient's: {why}")
    return receipt
