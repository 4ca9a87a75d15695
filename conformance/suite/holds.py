"""Slow connections a case holds open on the HTTP door while its steps run, and what the gateway must do with them.

A slow client must cost a gateway no worker it needs for others: while the
connections are held, the case's steps (a normal message) must get their
receipts in their usual time (`expect.within_s`), and the gateway must close
every held connection within the case's bound (`hold.closed_within_s`), counted
from its opening. Everything is seen from outside, on the sockets.

Each kind of slow request (a name of `HOLDS`) says what every connection sends
at once and what it then trickles (one byte per tick, for as long as the
connection lasts), and which answer the gateway may give before closing:

- ``stalled_bodies``: a POST to the message door declaring a body it never
  completes. The gateway closes the connection, either without a word or with
  the signed rejection REQUEST_TIMEOUT (HTTP 408; README, Error codes).
- ``trickling_headers``: a request whose headers arrive a byte at a time. The
  gateway closes the connection, without a word or with a bare 408 (RFC 9110,
  15.5.9): no request was read, so there is nothing to sign a receipt for.
"""

from __future__ import annotations

import selectors
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from conformance.suite.model import Hold
from conformance.suite.verdict import ReceiptCheck
from gateway.exceptions import ReceiptError

TICK_S = 0.2  # between two trickled bytes
SETTLE_S = 1.0  # after opening, before the steps run: every connection is well into its request by then


@dataclass(frozen=True)
class SlowRequest:
    """What each held connection sends: `opening` at once, then `trickle` one byte per tick."""

    opening: bytes
    trickle: bytes = b""


@dataclass(frozen=True)
class HoldDef:
    """A kind of slow request: how it is made from the door's path and host, and the codes of the signed
    rejection its 408 answer carries (none: a bare 408, there is no request to sign a receipt for)."""

    make: Callable[..., SlowRequest]
    receipt_codes: tuple[str, ...] = ()

    def check(self, params: Mapping[str, Any]) -> None:
        """Raise TypeError or ValueError when `params` do not fit the kind."""
        self.make("/", "host", **params)


def stalled_bodies(path: str, host: str, declared: int = 5000, sent: int = 100) -> SlowRequest:
    """A POST of the message door declaring `declared` bytes of body and sending `sent` of them."""
    if not 0 <= sent < declared:
        raise ValueError(f"a stalled body sends fewer bytes ({sent}) than it declares ({declared})")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/xml\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    return SlowRequest(head.encode("ascii") + b"<" * sent)


def trickling_headers(path: str, host: str, padding: int = 1000) -> SlowRequest:
    """A GET whose request line and headers (one of them `padding` bytes long) come one byte per tick."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Padding: {'a' * padding}\r\n\r\n"
    return SlowRequest(b"", request.encode("ascii"))


HOLDS: dict[str, HoldDef] = {
    "stalled_bodies": HoldDef(stalled_bodies, receipt_codes=("REQUEST_TIMEOUT",)),
    "trickling_headers": HoldDef(trickling_headers),
}


@dataclass(frozen=True)
class HoldOutcome:
    """What became of the held connections: a summary, what differs from the contract, an answer as a sample."""

    actual: str
    mismatches: tuple[str, ...]
    sent: bytes
    answer: bytes | None


@dataclass
class _Connection:
    sock: socket.socket
    opened: float
    trickled: int = 0
    answer: bytes = b""
    closed: float | None = None
    refused_send: bool = False  # the gateway no longer takes what we send: stop trickling


class Held:
    """The held connections of one case: opened by `open`, watched in a thread, judged by `finish`."""

    def __init__(self, url: str, hold: Hold) -> None:
        target = urlsplit(url)
        self.kind = HOLDS[hold.name]
        self.hold = hold
        self.address = (target.hostname or "127.0.0.1", target.port or (443 if target.scheme == "https" else 80))
        self.tls = ssl.create_default_context() if target.scheme == "https" else None
        self.request = self.kind.make(target.path or "/", target.netloc, **hold.params)
        self.connections: list[_Connection] = []
        self.selector = selectors.DefaultSelector()
        self.watcher = threading.Thread(target=self._watch, name="conformance-hold", daemon=True)
        self.stop = threading.Event()

    def open(self) -> None:
        """Open every connection, send what it sends at once, start trickling and watching; then let them settle.

        Raises OSError when a connection cannot be opened (then `abandon` closes those that were)."""
        for _ in range(self.hold.connections):
            sock = socket.create_connection(self.address, timeout=self.hold.closed_within_s)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.address[0])
            connection = _Connection(sock, time.monotonic())
            self.connections.append(connection)
            sock.sendall(self.request.opening)
            sock.settimeout(TICK_S)
            self.selector.register(sock, selectors.EVENT_READ, connection)
        self.watcher.start()
        time.sleep(SETTLE_S)

    def finish(self, receipts: ReceiptCheck) -> HoldOutcome:
        """Wait until every connection is closed or its bound has passed (the watcher stops then), and judge."""
        if self.watcher.is_alive():
            self.watcher.join()
        self._close()
        return self._judge(receipts)

    def abandon(self) -> None:
        """Stop watching and close everything, without judging (the connections could not all be opened)."""
        self.stop.set()
        if self.watcher.is_alive():
            self.watcher.join()
        self._close()

    def _close(self) -> None:
        for connection in self.connections:
            connection.sock.close()
        self.selector.close()

    def _watch(self) -> None:
        """Trickle a byte to every open connection each tick, and read what the gateway says until it closes."""
        last_end = max(connection.opened for connection in self.connections) + self.hold.closed_within_s
        next_tick = time.monotonic()
        while not self.stop.is_set() and time.monotonic() < last_end:
            open_ones = [connection for connection in self.connections if connection.closed is None]
            if not open_ones:
                return
            if time.monotonic() >= next_tick:
                for connection in open_ones:
                    self._trickle(connection)
                next_tick += TICK_S
            for key, _ in self.selector.select(timeout=max(0.0, next_tick - time.monotonic())):
                self._read(key.data)

    def _trickle(self, connection: _Connection) -> None:
        if connection.refused_send or connection.trickled >= len(self.request.trickle):
            return
        try:
            connection.sock.send(self.request.trickle[connection.trickled : connection.trickled + 1])
            connection.trickled += 1
        except (TimeoutError, ssl.SSLWantWriteError):
            pass
        except OSError:
            connection.refused_send = True  # closed or reset: the read side says which

    def _read(self, connection: _Connection) -> None:
        try:
            data = connection.sock.recv(65536)
        except (TimeoutError, ssl.SSLWantReadError):
            return
        except OSError:  # reset: closed (what came before stays in the answer)
            data = b""
        if data:
            connection.answer += data
            return
        connection.closed = time.monotonic()
        self.selector.unregister(connection.sock)

    def _judge(self, receipts: ReceiptCheck) -> HoldOutcome:
        bound = self.hold.closed_within_s
        problems: Counter[str] = Counter()
        answers: Counter[str] = Counter()
        for connection in self.connections:
            if connection.closed is None or connection.closed - connection.opened > bound:
                problems[f"still open {bound:g} s after it was opened"] += 1
                continue
            answer = self._answer(connection.answer, receipts)
            answers[answer.what] += 1
            if answer.problem:
                problems[answer.problem] += 1
        closed = [c.closed - c.opened for c in self.connections if c.closed is not None]
        total = len(self.connections)
        actual = f"{len(closed)} of {total} closed" + (
            f" after {min(closed):.1f} to {max(closed):.1f} s" if closed else ""
        )
        if answers:
            actual += ": " + ", ".join(f"{n} {what}" for what, n in sorted(answers.items()))
        mismatches = tuple(f"{n} of {total} connections: {problem}" for problem, n in sorted(problems.items()))
        sample = next((c.answer for c in self.connections if c.answer), None)
        return HoldOutcome(actual, mismatches, self.request.opening + self.request.trickle, sample)

    def _answer(self, data: bytes, receipts: ReceiptCheck) -> _Answer:
        """What the gateway said before closing one connection, and what is wrong with it, if anything."""
        if not data:
            return _Answer("without an answer")
        head, _, body = data.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0]
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or parts[1] != b"408":
            shown = status_line[:80].decode("latin-1")
            return _Answer("with another answer", f"answered {shown!r} instead of closing, with or without 408")
        expected = self.kind.receipt_codes
        if not expected:
            return _Answer("with HTTP 408")
        if not body:
            return _Answer("with HTTP 408", f"a 408 without the signed rejection {', '.join(expected)}")
        try:
            receipt = receipts.read(body[: _content_length(head) or len(body)])
        except ReceiptError as exc:
            return _Answer("with HTTP 408", f"the 408's body is not a receipt that can be trusted: {exc}")
        if receipt.status != "REJECTED" or tuple(dict.fromkeys(receipt.codes)) != expected:
            found = f"a {receipt.status} receipt with {list(receipt.codes)}"
            return _Answer("with HTTP 408", f"{found}, not the rejection {', '.join(expected)}")
        return _Answer(f"with a signed {', '.join(expected)} (HTTP 408)")


@dataclass(frozen=True)
class _Answer:
    what: str
    problem: str | None = None


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value)
    return None
