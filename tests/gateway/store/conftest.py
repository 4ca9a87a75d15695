"""Store fixtures: messages to record (the store itself: tests/gateway/conftest.py)."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from gateway.store.messages import NewMessage


@pytest.fixture
def make_message() -> object:
    """The factory below, for the test modules (a conftest is not importable by name here)."""
    return new_message


def new_message(
    *,
    sender: str = "0101234567",
    message_id: str | None = None,
    body: bytes | None = None,
    receipt: bytes | None = None,
    document_type: str = "ECOM_ORDER",
    function: str = "01",
    route: str = "orders",
) -> NewMessage:
    """A NewMessage with a fresh id; `digest` is the SHA-256 of `body`, as intake computes it."""
    message_id = message_id or str(uuid.uuid4())
    body = (
        body if body is not None else f"<Envelope id='{message_id}'>Hải quan \u2713</Envelope>".encode() + b"\x00\xff"
    )
    return NewMessage(
        sender=sender,
        message_id=message_id,
        recipient="VNECOMGW",
        document_type=document_type,
        function=function,
        reference=f"REF-{message_id[:8]}",
        pre_reference=None,
        correlation_id=f"corr-{message_id}",
        door="http",
        digest=hashlib.sha256(body).hexdigest(),
        body=body,
        receipt=receipt if receipt is not None else f"<Receipt for='{message_id}' n='{uuid.uuid4()}'/>".encode(),
        route=route,
    )
