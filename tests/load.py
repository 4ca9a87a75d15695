"""Load for fault tests: signed messages sent over HTTP without pause while something is done to the gateway,
and what came of each of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import requests
from sqlalchemy import Engine, func, select
from support import MessageFactory, wait_until

from gateway import client
from gateway.lifecycle import MessageStatus
from gateway.store.tables import messages as messages_table


@dataclass(frozen=True)
class Sent:
    at: float  # time.monotonic() when the answer came
    http_status: int | None  # None: no answer (the connection failed)
    receipt_status: str | None  # ACCEPTED, DUPLICATE, REJECTED; None without an answer
    message_id: str | None


class Load:
    """`threads` senders of `document_type` (signed by `sender`, its sample's sender by default) to `url`."""

    def __init__(self, url: str, factory: MessageFactory, document_type: str, sender: str | None = None, threads: int = 1):
        self.url, self.factory, self.document_type, self.sender = url, factory, document_type, sender
        self.sent: list[Sent] = []
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._send, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(30)

    def accepted(self) -> list[str]:
        return [s.message_id for s in self.sent if s.receipt_status == "ACCEPTED" and s.message_id]

    def accepted_since(self, moment: float) -> int:
        return sum(1 for s in self.sent if s.at > moment and s.receipt_status == "ACCEPTED")

    def unanswered_since(self, moment: float) -> list[Sent]:
        return [s for s in self.sent if s.at > moment and s.http_status is None]

    def wait_for_accepted(self, since: float = 0.0, count: int = 3, timeout: float = 30.0) -> None:
        wait_until(lambda: self.accepted_since(since) >= count, timeout=timeout, interval=0.05)

    def _send(self) -> None:
        session = requests.Session()
        while not self._stopping.is_set():
            body = self.factory.signed(self.document_type, self.sender)
            try:
                submission = client.post_http(self.url, body, session, timeout=30)
            except requests.RequestException:
                self.sent.append(Sent(time.monotonic(), None, None, None))
                session = requests.Session()
                time.sleep(0.05)
                continue
            receipt = client.read_receipt(submission.receipt, None)
            self.sent.append(Sent(time.monotonic(), submission.http_status, receipt.status, receipt.received_message_id))


def wait_until_processed(engine: Engine, message_ids: Sequence[str], timeout: float = 120.0) -> None:
    """Every one of `message_ids` ends processed (nothing accepted is lost)."""

    def counts() -> dict[str, int]:
        with engine.connect() as connection:
            return dict(
                connection.execute(
                    select(messages_table.c.status, func.count())
                    .where(messages_table.c.message_id.in_(list(message_ids)))
                    .group_by(messages_table.c.status)
                ).all()
            )

    def all_processed() -> bool:
        return counts() == {MessageStatus.PROCESSED.value: len(message_ids)}

    try:
        wait_until(all_processed, timeout=timeout, interval=1.0)
    except BaseException:
        with engine.connect() as connection:
            waiting = connection.execute(
                select(messages_table.c.message_id, messages_table.c.status)
                .where(messages_table.c.message_id.in_(list(message_ids)))
                .where(messages_table.c.status != MessageStatus.PROCESSED.value)
            ).all()
        print(f"{len(message_ids)} accepted; by status now: {counts()}; not processed: {waiting[:10]}")
        raise
