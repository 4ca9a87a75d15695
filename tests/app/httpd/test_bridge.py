"""The buffering bridge: what the WSGI application sees of a request, and when it is run at all."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from app.httpd.bridge import BodyLimits, BufferingBridge, wsgi_environ
from gateway.exceptions import BodyIncomplete

LIMITS = BodyLimits(max_body_bytes=lambda path: 100, body_timeout_s=0.3, body_min_rate=1000)


def scope(headers: list[tuple[bytes, bytes]] | None = None, path: str = "/v1/messages") -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": path,
        "root_path": "",
        "query_string": b"wsdl",
        "headers": headers or [],
        "server": ("127.0.0.1", 8080),
        "client": ("10.1.2.3", 50000),
        "scheme": "http",
    }


class Recorder:
    """A WSGI application that records what it read and answers 200 with the body's length."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.read: list[bytes | BodyIncomplete] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.calls.append(environ)
        try:
            body = environ["wsgi.input"].read()
        except BodyIncomplete as incomplete:
            self.read.append(incomplete)
            start_response("408 Request Timeout", [("Content-Type", "text/plain")])
            return [b"late"]
        self.read.append(body)
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"len=")
        return [str(len(body)).encode()]


def serve(
    app: Recorder, request: dict[str, Any], events: list[dict[str, Any] | float], limits: BodyLimits = LIMITS
) -> list[dict[str, Any]]:
    """Run the bridge on `request`; `events` are what `receive` gives, a number being a pause in seconds first."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        while events and isinstance(events[0], float):
            await asyncio.sleep(events.pop(0))  # type: ignore[arg-type]
        if not events:
            await asyncio.sleep(3600)  # a client that sends nothing more
        return events.pop(0)  # type: ignore[return-value]

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    bridge = BufferingBridge(app, limits, threads=2)
    try:
        asyncio.run(bridge(request, receive, send))
    finally:
        bridge.close()
    return sent


def body(data: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.request", "body": data, "more_body": more}


def test_a_body_in_chunks_reaches_the_application_whole_with_its_response_sent_back() -> None:
    app = Recorder()
    sent = serve(app, scope([(b"content-length", b"5")]), [body(b"ab", more=True), 0.05, body(b"cde")])
    assert app.read == [b"abcde"]
    assert sent[0] == {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
    assert sent[1] == {"type": "http.response.body", "body": b"len=5"}


def test_a_declared_length_over_the_limit_is_not_read() -> None:
    app = Recorder()
    serve(app, scope([(b"content-length", b"101")]), [body(b"x" * 50, more=True)])
    assert app.read == [b""]
    assert app.calls[0]["CONTENT_LENGTH"] == "101"


def test_a_chunked_body_is_read_one_chunk_past_the_limit_and_no_further() -> None:
    app = Recorder()
    serve(app, scope(), [body(b"x" * 60, more=True), body(b"x" * 60, more=True), body(b"never read", more=True)])
    assert app.read == [b"x" * 120]


def test_a_stalled_body_reaches_the_application_as_incomplete_at_its_deadline() -> None:
    app = Recorder()
    sent = serve(app, scope([(b"content-length", b"50")]), [body(b"x" * 10, more=True)])
    assert isinstance(app.read[0], BodyIncomplete) and app.read[0].received == 10
    assert sent[0]["status"] == 408


def test_bytes_received_extend_the_deadline_at_the_minimum_rate() -> None:
    # 0.3 s base + 300 bytes at 1000 B/s = 0.6 s: the last chunk at ~0.45 s is in time.
    events: list[dict[str, Any] | float] = [body(b"x" * 300, more=True), 0.45, body(b"y")]
    app = Recorder()
    serve(app, scope(), events, BodyLimits(max_body_bytes=lambda path: 1000, body_timeout_s=0.3, body_min_rate=1000))
    assert app.read == [b"x" * 300 + b"y"]


def test_a_client_that_went_away_runs_nothing() -> None:
    app = Recorder()
    sent = serve(app, scope([(b"content-length", b"50")]), [body(b"x", more=True), {"type": "http.disconnect"}])
    assert app.calls == [] and sent == []


def test_the_environ_follows_pep_3333() -> None:
    headers = [(b"content-type", b"application/xml"), (b"x-correlation-id", b"a"), (b"x-correlation-id", b"b")]
    environ = wsgi_environ(scope(headers, path="/soap"), b"<x/>", complete=True)
    assert environ["REQUEST_METHOD"] == "POST"
    assert (environ["PATH_INFO"], environ["QUERY_STRING"]) == ("/soap", "wsdl")
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("127.0.0.1", "8080")
    assert environ["REMOTE_ADDR"] == "10.1.2.3"
    assert environ["CONTENT_TYPE"] == "application/xml"
    assert environ["HTTP_X_CORRELATION_ID"] == "a,b"
    assert environ["wsgi.input"].read() == b"<x/>"


@pytest.mark.parametrize("path", ["/caf\u00e9"])
def test_a_path_is_given_as_latin_1_of_its_utf_8_bytes(path: str) -> None:
    assert wsgi_environ(scope(path=path), b"", complete=True)["PATH_INFO"] == "/caf\u00c3\u00a9"
