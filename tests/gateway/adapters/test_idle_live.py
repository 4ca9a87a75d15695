"""A running gateway left idle longer than its broker heartbeats answers and publishes at once afterwards.

The relay's grace is set far beyond the test, so a message that reaches the broker within it was published
by the door that took it, not picked up later by the relay.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from support import AMQP_URL, LiveGateway, MessageFactory, wait_until, write_config

from gateway import client
from gateway.lifecycle import MessageStatus
from gateway.services import Services

pytestmark = [pytest.mark.integration, pytest.mark.slow]
HEARTBEAT_S = 1


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    """Overrides conftest's: short heartbeats, and a relay that would take a minute to step in."""
    return write_config(
        tmp_path / "config", pki_dir, namespace, broker={"heartbeat_s": HEARTBEAT_S, "relay_grace_s": 60.0}
    )


def queued_soon(services: Services, sender: str, message_id: str) -> bool:
    def queued() -> bool:
        stored = services.store.get(sender, message_id)
        return stored is not None and stored.status in (MessageStatus.QUEUED.value, MessageStatus.PROCESSED.value)

    return bool(wait_until(queued, timeout=10))


def test_after_an_idle_spell_every_door_answers_and_publishes_at_once(
    own_gateway: LiveGateway, services: Services, messages: MessageFactory
) -> None:
    partner = client.AmqpClient(AMQP_URL, services.topology.inbound_exchange)
    try:
        for round_ in ("before", "after"):
            if round_ == "after":
                time.sleep(HEARTBEAT_S * 5)  # idle: the broker drops connections that missed their heartbeats
                partner.connection.process_data_events(time_limit=0)
            sent = {
                "http": client.read_receipt(client.post_http(own_gateway.url, messages.signed("ECOM_ORDER")).receipt, services.trust),
                "soap": client.read_receipt(
                    client.post_soap(own_gateway.url, messages.signed("ECOM_ORDER"), "1.1").receipt, services.trust
                ),
                "amqp": client.read_receipt(partner.submit(messages.signed("ECOM_ORDER"), str(uuid.uuid4()), timeout=10), services.trust),
            }
            for door, receipt in sent.items():
                assert receipt.accepted, (round_, door, receipt.errors)
                assert queued_soon(services, "0101234567", receipt.received_message_id), (round_, door)
    finally:
        partner.close()
    assert "receipt could not be delivered" not in own_gateway.log()
