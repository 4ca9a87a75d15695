"""An ASGI application that buffers a request's whole body in the event loop, then runs a WSGI
application on it in a small thread pool.

A WSGI thread that reads its body from the socket is held for as long as the client takes to send
it: 32 clients that declare a body and go silent take every thread of a threaded server. Here the
event loop reads bodies (thousands of waiting connections cost a few kilobytes each), and a thread
is taken only by a request whose body is complete, or whose body did not arrive in time.

Deadlines (README, Security): the body must arrive within `body_timeout_s`, extended by one second
for every `body_min_rate` bytes received, so an honest large upload on a slow link gets through
while a stalled or trickling one is cut off after about `body_timeout_s`. When the deadline
passes, the WSGI application still answers (the gateway's answer is a signed rejection), reading a
`wsgi.input` that raises `BodyIncomplete`; when the client has gone, nothing runs.

A declared Content-Length over the path's `max_body_bytes` is not read at all: the application sees the header
and refuses without reading; a chunked body is read one byte past the limit, no further.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from gateway.exceptions import BodyIncomplete
from gateway.threads import name_this_thread

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Response = tuple[int, list[tuple[bytes, bytes]], bytes]


@dataclass(frozen=True, slots=True)
class BodyLimits:
    max_body_bytes: Callable[[str], int]  # the most the route at a path takes; a larger body is not read
    body_timeout_s: float
    body_min_rate: int  # bytes per second that earn one more second


class BufferingBridge:
    """ASGI 3 application serving `wsgi_app`, with a pool of `threads` threads for it."""

    def __init__(self, wsgi_app: WsgiApp, limits: BodyLimits, threads: int) -> None:
        self.wsgi_app = wsgi_app
        self.limits = limits
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http", initializer=name_this_thread)

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":  # the server runs with lifespan "off" and without websockets
            return
        body, complete, gone = await self._read_body(scope, receive)
        if gone:
            return
        environ = wsgi_environ(scope, body, complete)
        loop = asyncio.get_running_loop()
        status, headers, content = await loop.run_in_executor(self.executor, _call, self.wsgi_app, environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _read_body(self, scope: dict[str, Any], receive: Callable[..., Any]) -> tuple[bytes, bool, bool]:
        """(body, complete, client gone). Stops early when the body is over the limit or too slow."""
        limit = self.limits.max_body_bytes(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            return b"", True, False  # the application refuses on the header alone
        chunks: list[bytes] = []
        received = 0
        expires = asyncio.get_running_loop().time() + self.limits.body_timeout_s
        try:
            async with asyncio.timeout_at(expires) as deadline:  # one timer for the whole body
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return b"", False, True
                    chunk = message.get("body", b"")
                    chunks.append(chunk)
                    received += len(chunk)
                    if received > limit or not message.get("more_body", False):
                        return b"".join(chunks), True, False
                    expires += len(chunk) / self.limits.body_min_rate
                    deadline.reschedule(expires)
        except TimeoutError:
            return b"".join(chunks), False, False

    def close(self) -> None:
        self.executor.shutdown(wait=True)


def wsgi_environ(scope: dict[str, Any], body: bytes, complete: bool) -> dict[str, Any]:
    """The PEP 3333 environ of an ASGI HTTP request whose body is `body`."""
    server_host, server_port = scope.get("server") or ("localhost", 80)
    client = scope.get("client")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf-8").decode("latin-1"),
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": server_host,
        "SERVER_PORT": str(server_port),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body) if complete else _IncompleteBody(len(body)),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if client:
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = client[0], str(client[1])
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").upper().replace("-", "_"), raw_value.decode("latin-1")
        key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class _IncompleteBody(io.RawIOBase):
    """The `wsgi.input` of a request whose body did not arrive in time."""

    def __init__(self, received: int) -> None:
        self.received = received

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        raise BodyIncomplete(self.received)

    readinto = read  # type: ignore[assignment]


def _call(wsgi_app: WsgiApp, environ: dict[str, Any]) -> Response:
    """Run the WSGI application to the end of its response (in a pool thread)."""
    started: list[Any] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        started[:] = [status, headers]
        return written.append

    result = wsgi_app(environ, start_response)
    try:
        content = b"".join([*written, *result])
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started
    encoded = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    return int(status.split(" ", 1)[0]), encoded, content


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
