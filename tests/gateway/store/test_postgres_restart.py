"""A PostgreSQL restart in the middle of a run loses no accepted message, and the gateway recovers by itself.

Senders keep submitting over HTTP to a gateway on PostgreSQL while the database server is restarted. While
it is down, intake answers STORE_UNAVAILABLE (503: nothing is accepted that is not stored); afterwards the
pool's pre-ping and the store's one retry of a transaction whose connection died bring every component
back without a restart of the gateway, and every message that got an ACCEPTED receipt ends processed.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from load import Load, wait_until_processed
from support import LiveGateway, MessageFactory, ServerTurns

from gateway.services import Services

pytestmark = [pytest.mark.restarts_a_server, pytest.mark.stores("postgresql")]
CLUSTERS = sorted(Path("/etc/postgresql").glob("*/main")) if Path("/etc/postgresql").is_dir() else []


def _pg_ctlcluster(action: str) -> None:
    version = CLUSTERS[0].parent.name
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action], check=True, capture_output=True, timeout=120
    )


@pytest.mark.skipif(
    shutil.which("pg_ctlcluster") is None or not CLUSTERS,
    reason="no local PostgreSQL cluster managed by pg_ctlcluster, so the test cannot restart the database",
)
def test_a_database_restart_mid_run_loses_no_accepted_message(
    own_gateway: LiveGateway, services: Services, messages: MessageFactory, server_turns: ServerTurns
) -> None:
    with Load(own_gateway.url, messages, "ECOM_DECLARATION", threads=2) as load:
        load.wait_for_accepted()
        with server_turns.hold(exclusive=True):  # no other test uses the database meanwhile
            down_from = time.monotonic()
            _pg_ctlcluster("stop")
            time.sleep(2)  # the outage: intake must answer, and answer STORE_UNAVAILABLE
            _pg_ctlcluster("start")
            up_from = time.monotonic()
        load.wait_for_accepted(since=up_from, count=5, timeout=60)

    outage = [s for s in load.sent if down_from < s.at < up_from]
    assert outage and {s.http_status for s in outage} <= {200, 503}, {s.http_status for s in outage}
    assert any(s.http_status == 503 for s in outage), "intake was never told the store was away"
    assert not [s for s in outage if s.http_status is None], "intake stopped answering during the outage"
    wait_until_processed(services.engine, load.accepted())
