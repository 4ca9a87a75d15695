"""A RabbitMQ restart in the middle of a run loses no accepted message.

Senders keep submitting over HTTP while the broker application is stopped and
started again (`rabbitmqctl stop_app` / `start_app`: the broker drops every
connection and its queues go offline, as in a restart). Every message that got
an ACCEPTED receipt must end up processed; receipts given while the broker was
away must have been honoured through the outbox relay.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from load import Load, wait_until_processed
from support import LiveGateway, MessageFactory, ServerTurns

from gateway.services import Services

pytestmark = pytest.mark.restarts_a_server  # so it runs while no other test uses the broker (tests/conftest.py)


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="rabbitmqctl is not on PATH, so the test cannot restart the broker")
def test_a_broker_restart_mid_run_loses_no_accepted_message(
    own_gateway: LiveGateway, services: Services, messages: MessageFactory, server_turns: ServerTurns
) -> None:
    with Load(own_gateway.url, messages, "ECOM_DECLARATION", threads=2) as load:
        load.wait_for_accepted()
        with server_turns.hold(exclusive=True):  # no other test uses the broker meanwhile
            down_from = time.monotonic()
            _rabbitmqctl("stop_app")
            load.wait_for_accepted(since=down_from)  # receipts while the broker is away
            down_until = time.monotonic()
            _rabbitmqctl("start_app")
            _rabbitmqctl("await_startup")
        load.wait_for_accepted(since=time.monotonic())

    accepted = load.accepted()
    during_outage = [s for s in load.sent if down_from < s.at < down_until and s.receipt_status == "ACCEPTED"]
    assert accepted, "no message was accepted at all"
    assert during_outage, "no message was accepted while the broker was down: the outbox path was not exercised"
    assert all(s.http_status in (200, 503) for s in load.sent), {s.http_status for s in load.sent}
    wait_until_processed(services.engine, accepted)
