"""The whole suite against our own gateway (`gateway serve` in a subprocess, the real broker), through every door.

`gateway-conformance run` is driven exactly as a partner would drive it, with
every identity a full run needs, so nothing is skipped but the cases of other
doors, and nothing fails. Each door runs the suite once, the doors spread over the
two stores so that both take about as long (the doors do not depend on the store;
the store-related cases, duplicates and conflicts, run on both).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import AMQP_URL, LiveGateway

from conformance.cli import main
from conformance.suite.manifest import Suite
from gateway.services import Services

from .conftest import Outcomes, SuiteIdentities

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("db_url", "doors"), [("sqlite", ("amqp",)), ("postgresql", ("http", "soap11", "soap12"))], indirect=["db_url"]
)
def test_the_whole_suite_passes_through_every_door(
    doors: tuple[str, ...],
    own_gateway: LiveGateway,
    services: Services,
    suite: Suite,
    suite_identities: SuiteIdentities,
    pki_dir: Path,
    tmp_path: Path,
) -> None:
    options_of = {
        "http": ["--target", own_gateway.url],
        "soap11": ["--target", own_gateway.url, "--soap"],
        "soap12": ["--target", own_gateway.url, "--soap12"],
        "amqp": ["--target", AMQP_URL, "--amqp-exchange", services.topology.inbound_exchange],
    }
    found: dict[str, tuple[int, Outcomes]] = {}
    for door in doors:
        options = options_of[door]
        junit, page = tmp_path / f"{door}.xml", tmp_path / f"{door}.html"
        status = main(
            [
                "run",
                *options,
                *suite_identities.options(),
                "--gateway-cert",
                str(pki_dir / "VNECOMGW.cert.pem"),
                "--junit",
                str(junit),
                "--html",
                str(page),
            ]
        )
        found[door] = status, Outcomes.read(junit)
        assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    for door, (status, outcomes) in found.items():
        assert outcomes.total == len(suite.cases)
        assert outcomes.failed == set(), f"{door}: see {tmp_path / door}.html"
        assert outcomes.skipped == {case.id for case in suite.cases if door not in case.doors}, door
        assert status == 0, door
