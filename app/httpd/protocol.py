"""uvicorn's HTTP/1.1 protocol with a deadline for a request's headers.

uvicorn closes a keep-alive connection that stays idle, but any byte restarts nothing and stops
that timer: a client that opens a connection and sends nothing, or trickles its headers a byte at a
time, keeps the connection for ever. Here the whole header block must arrive within
`header_timeout_s` of the connection opening (on a kept-alive connection: of the next request's
first byte; until then the keep-alive timeout applies); otherwise the connection is closed, with
a bare 408 when part of a request came.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_LINGER_S = 2.0  # how long a connection answered 408 is read (and dropped) before it is closed
_REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """HttpToolsProtocol whose requests' headers must arrive within `header_timeout_s`."""

    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._partial_request = False
        self._lingering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # answered 408 and closing: dropped
        if self._awaiting_headers() and self._header_deadline is None:
            self._arm_header_deadline()  # the first byte of a request on a kept-alive connection
        super().data_received(data)
        if self._awaiting_headers():
            self._partial_request = True
        else:
            self._disarm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._awaiting_headers():
            self._disarm_header_deadline()  # an idle kept-alive connection is uvicorn's keep-alive timeout's

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _awaiting_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._partial_request = False
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_late)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_late(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing() or not self._awaiting_headers():
            return
        if not self._partial_request:
            self.transport.close()
            return
        # A lingering close: the 408 and our FIN go out, and what the client still sends is read and dropped
        # for a while. Closing at once would answer its next byte with a reset, which can destroy the 408
        # before the client reads it.
        self.transport.write(_REQUEST_TIMEOUT)
        self._lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_S, self.transport.close)


def with_header_timeout(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class with this deadline (uvicorn takes a class, not an instance)."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout_s": seconds})
