"""The intake pipeline in-process, on both stores and the real broker."""

from __future__ import annotations

import pytest
from support import MessageFactory

from conformance import SAMPLE_SENDERS
from gateway import client
from gateway.lifecycle import MessageStatus
from gateway.pipeline import Pipeline, Transport
from gateway.services import Services

HTTP = Transport("http")


@pytest.mark.parametrize("document_type", sorted(SAMPLE_SENDERS))
def test_every_sample_is_accepted_stored_and_queued(
    document_type: str, pipeline: Pipeline, services: Services, messages: MessageFactory
) -> None:
    body = messages.signed(document_type)

    outcome = pipeline.submit(body, HTTP)

    assert outcome.status == 200, outcome.codes
    receipt = client.read_receipt(outcome.receipt, services.trust)
    assert receipt.status == "ACCEPTED" and receipt.function == "99"
    assert receipt.received_message_id == outcome.message_id
    stored = services.store.get(SAMPLE_SENDERS[document_type], outcome.message_id)
    assert stored is not None and stored.body == body
    services.confirmations.flush()
    assert services.store.get(SAMPLE_SENDERS[document_type], outcome.message_id).status == MessageStatus.QUEUED.value
