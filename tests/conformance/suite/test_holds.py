"""Held slow connections: our gateway passes the slow-client cases in the time its deadlines give, and a server
that keeps slow connections open fails them, with the connections it kept counted."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import running_gateway
from support import Live, ServerTurns

from conformance.suite.builder import Builder
from conformance.suite.doors import HttpDoor
from conformance.suite.manifest import Suite
from conformance.suite.model import Hold
from conformance.suite.results import Status
from conformance.suite.runner import Runner
from conformance.suite.verdict import ReceiptCheck
from gateway.config import Settings
from gateway.schemas.registry import SchemaRegistry
from gateway.signing.trust import TrustStore

from ..conftest import SLOW_CLIENT_DEADLINES, SuiteIdentities, suite_sections

pytestmark = pytest.mark.integration
SLOW_CASES = ("transport.slow.stalled-bodies", "transport.slow.trickling-headers")


def runner_for(url: str, builder: Builder, suite_identities: SuiteIdentities) -> Runner:
    return Runner(HttpDoor(url), builder, ReceiptCheck(TrustStore.from_files([suite_identities.ca])))


@pytest.fixture(scope="module")
def gateway(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pki_dir: Path,
    schemas: Callable[[Settings], SchemaRegistry],
    suite_identities: SuiteIdentities,
    server_turns: ServerTurns,
) -> Iterator[Live]:
    """One gateway for both cases (starting one takes seconds), on SQLite (the door's reading does not touch the store):
    each case holds connections of its own, which the gateway closes at its deadlines, and its other requests are its own."""
    with contextlib.ExitStack() as running:
        with server_turns.hold():
            live = running.enter_context(
                running_gateway("sqlite", tmp_path_factory.mktemp("holds"), pki_dir, schemas, request, **suite_sections(suite_identities))
            )
        yield live
        with server_turns.hold():
            running.close()


@pytest.mark.parametrize("case_id", SLOW_CASES)
def test_our_gateway_closes_the_slow_connections_at_its_deadlines_and_serves_meanwhile(
    case_id: str, gateway: Live, suite: Suite, builder: Builder, suite_identities: SuiteIdentities
) -> None:
    case = suite.select(only=[case_id])[0]
    assert case.hold is not None
    held_open, deadline = case.hold.connections, max(SLOW_CLIENT_DEADLINES.values())

    result = runner_for(gateway.url, builder, suite_identities).run_case(case)

    assert result.status is Status.PASSED, result.failure_message()
    _, held = result.steps
    assert held.name == "held connections"
    assert held.actual.startswith(f"{held_open} of {held_open} closed")
    if case_id.endswith("stalled-bodies"):
        assert held.actual.endswith(f"{held_open} with a signed REQUEST_TIMEOUT (HTTP 408)")
    assert result.seconds < deadline * 3  # closed at the gateway's deadlines, not at the case's bound


class Silent:
    """A server that accepts connections and neither reads nor answers nor closes them, nor anything else."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (closing alone does not)
        self.listener.close()
        self.thread.join()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = Silent()
    server.thread.start()
    yield server
    server.close()


def test_a_server_that_keeps_slow_connections_fails_the_case_within_its_bounds(
    silent: Silent, suite: Suite, builder: Builder, suite_identities: SuiteIdentities
) -> None:
    case = suite.select(only=["transport.slow.stalled-bodies"])[0]
    case = replace(case, hold=Hold("stalled_bodies", 5, 2.0))
    door = HttpDoor(silent.url, timeout=1.0)
    runner = Runner(door, builder, ReceiptCheck(TrustStore.from_files([suite_identities.ca])))
    started = time.monotonic()

    result = runner.run_case(case)

    assert result.status is Status.FAILED
    message, held = result.steps
    assert message.mismatches and message.mismatches[0].startswith("no receipt")
    assert held.mismatches == ("5 of 5 connections: still open 2 s after it was opened",)
    assert held.actual == "0 of 5 closed"
    assert result.failure_message().startswith("step 'message': no receipt")
    assert time.monotonic() - started < 6
