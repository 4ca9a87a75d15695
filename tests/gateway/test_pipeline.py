"""The intake pipeline in-process, on both stores and the real broker."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree
from support import MessageFactory, write_config

from conformance import SAMPLE_SENDERS
from gateway import client
from gateway.envelope import qname
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
    assert services.forwarder.flush()
    assert services.store.get(SAMPLE_SENDERS[document_type], outcome.message_id).status == MessageStatus.QUEUED.value


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    """Overrides conftest's: a replay window of ten minutes."""
    return write_config(tmp_path / "config", pki_dir, namespace, intake={"max_age_s": 600})


@pytest.mark.stores("sqlite")
@pytest.mark.parametrize(
    ("sent_seconds_ago", "accepted"),
    [(0, True), (590, True), (610, False), (-200, True), (-400, False)],  # the clock skew is 300 s ahead
    ids=["now", "just-inside", "just-too-old", "ahead-within-skew", "too-far-ahead"],
)
def test_the_send_date_must_be_within_the_replay_window(
    sent_seconds_ago: int, accepted: bool, pipeline: Pipeline, messages: MessageFactory
) -> None:
    sent = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=sent_seconds_ago)

    def dated(root: etree._Element) -> None:
        root.find(f"{qname('Header')}/{qname('Subject')}/{qname('sendDate')}").text = sent.isoformat(timespec="seconds")

    outcome = pipeline.submit(messages.signed("ECOM_ORDER", edit=dated), HTTP)

    assert outcome.accepted is accepted
    if not accepted:
        assert (outcome.status, outcome.codes) == (422, ("SEND_DATE_OUT_OF_WINDOW",))
