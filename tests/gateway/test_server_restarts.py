"""A restart of RabbitMQ, or of PostgreSQL, in the middle of a run loses no accepted message.

Both restarts are in this module, so that one worker runs them one after the other: a restart's test holds
no shared turn on the servers (tests/conftest.py), so the other's must not set up meanwhile.

RabbitMQ: senders keep submitting over HTTP to a gateway on SQLite and one on PostgreSQL while the broker
application is stopped and started again, once for both (`rabbitmqctl stop_app` / `start_app`: the
broker drops every connection and its queues go offline, as in a restart). For each gateway, every
message that got an ACCEPTED receipt must end up processed; receipts given while the broker was away
must have been honoured through the outbox relay.

PostgreSQL: senders keep submitting over HTTP to a gateway on PostgreSQL while the database server is restarted.
While it is down, intake answers STORE_UNAVAILABLE (503: nothing is accepted that is not stored); afterwards the
pool's pre-ping and the store's one retry of a transaction whose connection died bring every component
back without a restart of the gateway, and every message that got an ACCEPTED receipt ends processed.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from load import Load, wait_until_processed
from support import Live, LiveGateway, MessageFactory, ServerTurns

from gateway.services import Services

pytestmark = pytest.mark.restarts_a_server  # so it runs while no other test uses the servers (tests/conftest.py)
CLUSTERS = sorted(Path("/etc/postgresql").glob("*/main")) if Path("/etc/postgresql").is_dir() else []


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def _pg_ctlcluster(action: str) -> None:
    version = CLUSTERS[0].parent.name
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action], check=True, capture_output=True, timeout=120
    )


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="rabbitmqctl is not on PATH, so the test cannot restart the broker")
def test_a_broker_restart_mid_run_loses_no_accepted_message(
    gateway_on_each_store: dict[str, Live], messages: MessageFactory, server_turns: ServerTurns
) -> None:
    with contextlib.ExitStack() as running:
        with server_turns.hold(exclusive=True):  # no other test uses the broker meanwhile
            # The load starts in the turn: it would only burn the CPU the other tests need while the turn is awaited.
            loads = {
                kind: running.enter_context(Load(gateway.url, messages, "ECOM_DECLARATION", threads=2))
                for kind, gateway in gateway_on_each_store.items()
            }
            for load in loads.values():
                load.wait_for_accepted()
            down_from = time.monotonic()
            _rabbitmqctl("stop_app")
            for load in loads.values():
                load.wait_for_accepted(since=down_from)  # receipts while the broker is away
            down_until = time.monotonic()
            _rabbitmqctl("start_app")
            _rabbitmqctl("await_startup")
        up_from = time.monotonic()
        for load in loads.values():
            load.wait_for_accepted(since=up_from)

    for kind, load in loads.items():
        accepted = load.accepted()
        during_outage = [s for s in load.sent if down_from < s.at < down_until and s.receipt_status == "ACCEPTED"]
        assert accepted, f"{kind}: no message was accepted at all"
        assert during_outage, f"{kind}: no message was accepted while the broker was down: the outbox path was not exercised"
        assert all(s.http_status in (200, 503) for s in load.sent), (kind, {s.http_status for s in load.sent})
        wait_until_processed(gateway_on_each_store[kind].services.engine, accepted)


@pytest.mark.skipif(
    shutil.which("pg_ctlcluster") is None or not CLUSTERS,
    reason="no local PostgreSQL cluster managed by pg_ctlcluster, so the test cannot restart the database",
)
@pytest.mark.stores("postgresql")
def test_a_database_restart_mid_run_loses_no_accepted_message(
    own_gateway: LiveGateway, services: Services, messages: MessageFactory, server_turns: ServerTurns
) -> None:
    with contextlib.ExitStack() as running:
        with server_turns.hold(exclusive=True):  # no other test uses the database meanwhile
            load = running.enter_context(Load(own_gateway.url, messages, "ECOM_DECLARATION", threads=2))
            load.wait_for_accepted()
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
