"""Helpers for the tests: paths, a builder of signed test messages, a live gateway subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from lxml import etree

from gateway import client
from gateway.config import DEFAULT_AMQP_URL
from gateway.envelope import qname
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
    lines = []
    for name, section in values.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in section.items())
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "gateway.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveGateway:
    """`gateway serve` in a subprocess, with its own config, store and broker namespace."""

    def __init__(self, config: Path, db_url: str, log_path: Path, role: str | None = None) -> None:
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "GATEWAY_CONFIG": str(config), "GATEWAY_DB_URL": db_url, "GATEWAY_AMQP_URL": AMQP_URL}
        self.log_path = log_path
        self.role = role
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> LiveGateway:
        command = [sys.executable, "-m", "gateway", "serve", "--bind", f"127.0.0.1:{self.port}"]
        if self.role:
            command += ["--role", self.role]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited with {self.process.returncode}; see {self.log_path}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the gateway did not start in {timeout}s; see {self.log_path}")

    def stop(self, timeout: float = 40.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def wait_until(condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.2) -> object:
    """Poll `condition` until it returns something truthy; fail the test with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s: {getattr(condition, '__name__', condition)}")

