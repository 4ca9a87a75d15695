"""`gateway demo` runs end to end: gateway up, every document type accepted, bad input rejected, clean stop."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import AMQP_URL, REPO, write_config

from app.process import free_port
from conformance import SAMPLE_SENDERS
from gateway.broker.connection import connect
from gateway.broker.topology import Topology
from routing.table import RoutingTable

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_demo_shows_the_whole_flow_and_stops_the_gateway_cleanly(tmp_path: Path, pki_dir: Path, namespace: str) -> None:
    console_port = free_port()
    config = write_config(tmp_path / "config", pki_dir, namespace, console={"bind": f"127.0.0.1:{console_port}"})
    env = {**os.environ, "GATEWAY_CONFIG": str(config), "GATEWAY_AMQP_URL": AMQP_URL, "COLUMNS": "200"}
    env.pop("GATEWAY_DB_URL", None)

    try:
        result = subprocess.run(
            [sys.executable, "-m", "app", "demo", "--bind", f"127.0.0.1:{free_port()}"],
            env=env, capture_output=True, text=True, timeout=240,
        )
    finally:
        with contextlib.closing(connect(AMQP_URL)) as connection:
            Topology(namespace, RoutingTable.load(REPO / "config" / "routes.toml").names).delete(connection.channel())

    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    assert output.count("ACCEPTED (fn 99, signature verified)") == len(SAMPLE_SENDERS)
    for code in ("SIGNATURE_DIGEST_MISMATCH", "CERTIFICATE_NOT_REGISTERED", "ROLE_NOT_PERMITTED",
                 "SIGNATURE_MISSING", "XML_DTD_FORBIDDEN", "PAYLOAD_SCHEMA_INVALID"):
        assert code in output
    assert "Gateway stopped cleanly (exit status 0)" in output
    assert f"Operators' console: http://127.0.0.1:{console_port}/admin/ (login demo, password " in output
    stored = output.split("Stored messages")[1].split("4. The business")[0]
    statuses = {line.split("│")[1].strip() for line in stored.splitlines() if line.startswith("│")}
    assert statuses == {"processed"}, "every accepted message should have been processed by the end of the demo"
    business = output.split("4. The business")[1]
    for shown in ("GREEN", "YELLOW", "RED", "INSPECTION_REQUIRED", "COMPLETED", "LATE_INSPECTION_RESULT", "refused"):
        assert shown in business, shown
    assert "message was not processed" not in business
    assert "gateway report (today)" in business
