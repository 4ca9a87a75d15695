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
import threading
import time
from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import func, select
from support import BrokerTurns, LiveGateway, MessageFactory, wait_until

from gateway import client
from gateway.lifecycle import MessageStatus
from gateway.services import Services
from gateway.store.tables import messages as messages_table

pytestmark = pytest.mark.restarts_broker  # so it runs while no other test uses the broker (tests/conftest.py)

@dataclass(frozen=True)
class Sent:
    at: float
    http_status: int
    receipt_status: str
    message_id: str | None


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def _send_until(stop: threading.Event, url: str, services: Services, messages: MessageFactory, sent: list[Sent]) -> None:
    session = requests.Session()
    while not stop.is_set():
        body = messages.signed("ECOM_DECLARATION")
        try:
            response = session.post(url + "/v1/messages", data=body, headers={"Content-Type": "application/xml"}, timeout=30)
        except requests.RequestException:
            continue
        receipt = client.read_receipt(response.content, services.trust)
        sent.append(Sent(time.monotonic(), response.status_code, receipt.status, receipt.received_message_id))


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="rabbitmqctl is not on PATH, so the test cannot restart the broker")
def test_a_broker_restart_mid_run_loses_no_accepted_message(
    own_gateway: LiveGateway, services: Services, messages: MessageFactory, broker_turns: BrokerTurns
) -> None:
    sent: list[Sent] = []
    stop = threading.Event()
    senders = [
        threading.Thread(target=_send_until, args=(stop, own_gateway.url, services, messages, sent)) for _ in range(2)
    ]

    def accepted_since(moment: float, count: int = 3) -> bool:
        return sum(1 for s in sent if s.at > moment and s.receipt_status == "ACCEPTED") >= count

    for sender in senders:
        sender.start()
    try:
        wait_until(lambda: accepted_since(0.0), timeout=30, interval=0.05)
        with broker_turns.hold(exclusive=True):  # no other test uses the broker meanwhile
            down_from = time.monotonic()
            _rabbitmqctl("stop_app")
            wait_until(lambda: accepted_since(down_from), timeout=30, interval=0.05)  # receipts while the broker is away
            down_until = time.monotonic()
            _rabbitmqctl("start_app")
            _rabbitmqctl("await_startup")
        up_from = time.monotonic()
        wait_until(lambda: accepted_since(up_from), timeout=30, interval=0.05)
    finally:
        stop.set()
        for sender in senders:
            sender.join()

    accepted = [s.message_id for s in sent if s.receipt_status == "ACCEPTED"]
    during_outage = [s for s in sent if down_from < s.at < down_until and s.receipt_status == "ACCEPTED"]
    assert accepted, "no message was accepted at all"
    assert during_outage, "no message was accepted while the broker was down: the outbox path was not exercised"
    assert all(s.http_status in (200, 503) for s in sent), {s.http_status for s in sent}

    def all_processed() -> bool:
        with services.engine.connect() as connection:
            rows = dict(
                connection.execute(
                    select(messages_table.c.status, func.count())
                    .where(messages_table.c.message_id.in_(accepted))
                    .group_by(messages_table.c.status)
                ).all()
            )
        return rows == {MessageStatus.PROCESSED.value: len(accepted)}

    wait_until(all_processed, timeout=120, interval=1.0)
