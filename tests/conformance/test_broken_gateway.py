"""A gateway with one stage broken makes the suite fail loudly, on exactly the cases that stage decides.

The broken gateway is assembled here, in the test: the real pipeline (real store
and broker) with its verify stage replaced by one that believes From/identity
and checks no signature, served over HTTP in this process. No switch of the
production code turns a check off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from support import served

from conformance.cli import main
from conformance.suite.manifest import Suite
from gateway.adapters.http import GatewayApp
from gateway.pipeline import Intake, Pipeline
from gateway.services import Services

from .conftest import Outcomes, SuiteIdentities

pytestmark = pytest.mark.stores("sqlite")  # what the verify stage decides does not depend on the store

VERIFY_CODES = frozenset(
    {
        "SIGNATURE_MISSING",
        "SIGNATURE_MULTIPLE",
        "SIGNATURE_MISPLACED",
        "SIGNATURE_PROFILE",
        "SIGNATURE_ALGORITHM",
        "SIGNATURE_DIGEST_MISMATCH",
        "SIGNATURE_INVALID",
        "KEY_TOO_WEAK",
        "CERTIFICATE_MISSING",
        "CERTIFICATE_INVALID",
        "CERTIFICATE_UNTRUSTED",
        "CERTIFICATE_EXPIRED",
        "CERTIFICATE_NOT_REGISTERED",
        "CERTIFICATE_TOO_LARGE",
        "CERTIFICATE_CHAIN_WEAK",
        "CERTIFICATE_REVOKED",
        "CERTIFICATE_STATUS_UNKNOWN",
        "PARTY_UNKNOWN",
        "PARTY_SUSPENDED",
    }
)
"""What the verify stage answers (README, Error codes: signature and trust)."""
SLOW = "transport.slow.*"


def believe_the_sender(intake: Intake, services: Services) -> None:
    """A verify stage that takes the envelope's word for who sent it and checks no signature."""
    assert intake.header is not None
    intake.party = services.parties.get(intake.header.sender.identity)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """The test's output is the suite's report, not an access log."""


def without_connection_header(app: GatewayApp) -> Callable[..., Iterable[bytes]]:
    """wsgiref refuses hop-by-hop headers such as the app's "Connection: close" (the gateway's HTTP server takes them);
    it closes every connection anyway, so the header can go."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> Any:
            return start_response(status, [(n, v) for n, v in headers if n.lower() != "connection"], exc_info)

        return app(environ, start)

    return wrapped


@contextlib.contextmanager
def serving(pipeline: Pipeline) -> Iterator[str]:
    app = without_connection_header(GatewayApp(pipeline))
    with served(make_server("127.0.0.1", 0, app, handler_class=_Quiet)) as url:
        yield url


def test_a_gateway_that_does_not_verify_signatures_fails_the_signature_cases_and_only_them(
    pipeline: Pipeline, suite: Suite, suite_identities: SuiteIdentities, tmp_path: Path
) -> None:
    junit = tmp_path / "broken.xml"
    with serving(pipeline.replacing("verify", believe_the_sender)) as url:
        # wsgiref's server reads a request in its only thread without a deadline: the slow-client cases would
        # fail here too, after their bounds; this test is about the verify stage.
        status = main(["run", "--target", url, *suite_identities.options(), "--skip", SLOW, "--junit", str(junit)])

    outcomes = Outcomes.read(junit)
    http_cases = [case for case in suite.select(skip=[SLOW]) if "http" in case.doors]
    decided_by_verify = {case.id for case in http_cases if any(step.expect.codes & VERIFY_CODES for step in case.steps)}
    assert status == 1
    assert len(decided_by_verify) > 60
    assert outcomes.failed == decided_by_verify
    assert outcomes.skipped == {case.id for case in suite.select(skip=[SLOW]) if "http" not in case.doors}
