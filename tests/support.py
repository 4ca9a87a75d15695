"""Helpers for the tests: paths, a builder of signed test messages, a live gateway subprocess."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from gateway import client, config
from gateway.config import DEFAULT_AMQP_URL
from gateway.envelope import qname
from gateway.process import GatewayProcess
from gateway.signing.keys import SigningIdentity

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "conformance" / "samples"
AMQP_URL = os.environ.get("GATEWAY_AMQP_URL", DEFAULT_AMQP_URL)
PG_ADMIN_URL = os.environ.get("GATEWAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
GATEWAY_ID = "VNECOMGW"

# Who sends each sample (a party registered in config/parties.toml with a role allowed to send it).
SAMPLE_SENDERS = {
    "ECOM_ORDER": "0101234567",
    "ECOM_DECLARATION": "0309876543",
    "INSPECTION_RESULT": "BYT",
    "PLATFORM_REGISTRATION": "0101234567",
    "POLICY_NOTICE": "BYT",
    "ATIGA_FORM_D": "SG-ASW",
    "ACDD": "SG-ASW",
    "RECEIPT": "VNSW",
    "LANE_NOTICE": "VNSW",
    "RESULT_NOTICE": "VNSW",
    "RISK_ALERT": "VNSW",
}


def write_config(directory: Path, pki_dir: Path, namespace: str, **sections: dict[str, object]) -> Path:
    """A gateway.toml for tests: its own var dir, the test PKI, the repo's parties and routes."""
    values: dict[str, dict[str, object]] = {
        "paths": {"var": str(directory / "var"), "pki": str(pki_dir)},
        "http": {"processes": 2, "threads": 4},
        "broker": {"namespace": namespace, "relay_interval_s": 0.5, "relay_grace_s": 1.0, "max_attempts": 3},
        "registry": {
            "parties": str(REPO / "config" / "parties.toml"),
            "routes": str(REPO / "config" / "routes.toml"),
        },
        "logging": {"format": "json", "level": "info"},
    }
    for name, section in sections.items():
        values.setdefault(name, {}).update(section)
    return config.write_config(directory / "gateway.toml", values)


class MessageFactory:
    """Signed test messages built from the samples, with fresh ids."""

    def __init__(self, identity: Callable[[str], SigningIdentity]) -> None:
        self.identity = identity

    def envelope(self, document_type: str, sender: str | None = None) -> etree._Element:
        root = client.refresh(client.load_envelope(SAMPLES / f"{document_type}.xml"))
        if sender is not None:
            root.find(f"{qname('Header')}/{qname('From')}/{qname('identity')}").text = sender
        return root

    def sign(self, root: etree._Element, party: str) -> bytes:
        return client.sign(root, self.identity(party))

    def signed(
        self,
        document_type: str = "ECOM_DECLARATION",
        party: str | None = None,
        edit: Callable[[etree._Element], object] | None = None,
    ) -> bytes:
        """A sample of `document_type`, from and signed by `party` (its usual sender by default)."""
        party = party or SAMPLE_SENDERS[document_type]
        root = self.envelope(document_type, party)
        if edit is not None:
            edit(root)
        return self.sign(root, party)


class LiveGateway(GatewayProcess):
    """A gateway subprocess for a test, with the test's store and the real broker."""

    def __init__(self, config_path: Path, db_url: str, log_path: Path, role: str | None = None) -> None:
        super().__init__(config_path, log_path, {"GATEWAY_DB_URL": db_url, "GATEWAY_AMQP_URL": AMQP_URL}, role)


def wait_until(condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.2) -> object:
    """Poll `condition` until it returns something truthy; fail the test with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s: {getattr(condition, '__name__', condition)}")

