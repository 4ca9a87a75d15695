"""Slow clients cannot hold the HTTP door: stalled bodies, trickling headers and silent connections are cut off
at their deadlines, and a normal client is served meanwhile at its usual speed.

The gateway here has one HTTP process with 4 threads, so a server that gave each waiting request a thread
would stop answering after the fourth stalled body.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from conftest import Live, assembled, new_namespace, settings_for
from support import LiveGateway, MessageFactory, ServerTurns, write_config

from gateway import client
from gateway.config import Settings
from gateway.schemas.registry import SchemaRegistry

pytestmark = pytest.mark.integration
DEADLINE_S = 3.0
STALLED_BODIES = 40
TRICKLING_HEADERS = 200
NORMAL_LATENCY_S = 2.0  # far above an unloaded answer (some ms) and far below the deadlines


@pytest.fixture(scope="module")
def slow_door(
    tmp_path_factory: pytest.TempPathFactory,
    pki_dir: Path,
    messages: MessageFactory,
    schemas: Callable[[Settings], SchemaRegistry],
    server_turns: ServerTurns,
) -> Iterator[Live]:
    """A gateway of this module's (one HTTP process of 4 threads, short deadlines), once it has served a first
    message: that compiles what each process compiles once, so later answers take their usual time."""
    directory = tmp_path_factory.mktemp("slow-door")
    http = {"processes": 1, "threads": 4, "header_timeout_s": DEADLINE_S, "body_timeout_s": DEADLINE_S}
    config = write_config(directory / "config", pki_dir, new_namespace(), http=http)
    url = f"sqlite:///{directory / 'gateway.db'}"
    with contextlib.ExitStack() as running:
        with server_turns.hold():  # a module-scoped fixture is set up and torn down outside the tests' turns
            built = running.enter_context(assembled(settings_for(config, url), schemas))
            gateway = LiveGateway(config, url, directory / "gateway.log").start()
            running.callback(gateway.stop)
            client.post_http(gateway.url, messages.signed("ECOM_ORDER"))
        yield Live(gateway, built.services, config)
        with server_turns.hold():
            running.close()


def connect(gateway: Live) -> socket.socket:
    return socket.create_connection(("127.0.0.1", gateway.port), timeout=DEADLINE_S * 4)


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for connection in opened:
        connection.close()


def served_at_usual_speed(gateway: Live, messages: MessageFactory) -> None:
    started = time.monotonic()
    health = requests.get(f"{gateway.url}/healthz", timeout=NORMAL_LATENCY_S)
    receipt = client.read_receipt(client.post_http(gateway.url, messages.signed("ECOM_ORDER")).receipt, gateway.services.trust)
    assert health.status_code == 200
    assert receipt.accepted, receipt.errors
    assert time.monotonic() - started < NORMAL_LATENCY_S


def read_response(connection: socket.socket) -> tuple[int, bytes]:
    """(status, body) of one HTTP/1.1 response with a Content-Length, read until the server closes."""
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_stalled_bodies_hold_no_thread_and_get_a_signed_timeout(
    slow_door: Live, messages: MessageFactory, sockets: list[socket.socket]
) -> None:
    stalled_at = time.monotonic()
    for _ in range(STALLED_BODIES):
        connection = connect(slow_door)
        connection.sendall(
            b"POST /v1/messages HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/xml\r\n"
            b"Content-Length: 5000\r\n\r\n" + b"<" * 100
        )
        sockets.append(connection)

    served_at_usual_speed(slow_door, messages)

    for connection in sockets:
        status, body = read_response(connection)
        assert status == 408
        assert client.read_receipt(body, slow_door.services.trust).codes == ("REQUEST_TIMEOUT",)
    assert time.monotonic() - stalled_at < DEADLINE_S * 3


def test_trickling_headers_are_cut_off_while_others_are_served(
    slow_door: Live, messages: MessageFactory, sockets: list[socket.socket]
) -> None:
    sockets.extend(connect(slow_door) for _ in range(TRICKLING_HEADERS))
    request = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Padding: " + b"a" * 1000
    stop = threading.Event()

    def trickle() -> None:  # one byte per connection every 0.2 s, as long as the server keeps them
        for offset in range(len(request)):
            for connection in sockets:
                try:
                    connection.send(request[offset : offset + 1])
                except OSError:
                    continue
            if stop.wait(0.2):
                return

    trickler = threading.Thread(target=trickle, daemon=True)
    started = time.monotonic()
    trickler.start()
    try:
        time.sleep(1.0)  # every connection is well into its headers
        served_at_usual_speed(slow_door, messages)
        statuses = {read_response(connection)[0] for connection in sockets}
    finally:
        stop.set()
        trickler.join()
    assert statuses == {408}
    assert time.monotonic() - started < DEADLINE_S * 3


def test_a_connection_that_sends_nothing_is_closed_at_the_header_deadline(
    slow_door: Live, sockets: list[socket.socket]
) -> None:
    connection = connect(slow_door)
    sockets.append(connection)
    opened = time.monotonic()
    assert connection.recv(1) == b""  # closed, with nothing to say to a client that asked nothing
    assert DEADLINE_S * 0.8 < time.monotonic() - opened < DEADLINE_S * 3


def test_on_a_kept_alive_connection_the_next_request_has_the_same_header_deadline(
    slow_door: Live, sockets: list[socket.socket]
) -> None:
    connection = connect(slow_door)
    sockets.append(connection)
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
    first = b""
    while not first.endswith(b'{"status":"ok"}') and (chunk := connection.recv(65536)):  # head and body may come apart
        first += chunk
    assert first.startswith(b"HTTP/1.1 200") and first.endswith(b'{"status":"ok"}')
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: gat")  # and nothing more
    started = time.monotonic()
    assert read_response(connection)[0] == 408
    assert DEADLINE_S * 0.8 < time.monotonic() - started < DEADLINE_S * 3
