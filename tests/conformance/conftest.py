"""Fixtures for the conformance suite's tests: the suite, the identities a full run needs, a gateway set up for it.

A full run needs, besides the parties of config/parties.toml, a suspended party
with its own key (for PARTY_SUSPENDED) and the test CA's key (to mint expired
and other wrong certificates that chain to the gateway's trust anchor). The
identities directory holds all of them; the gateway's configuration registers
the suspended party.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree
from support import REPO, write_config

from conformance.suite.builder import Builder, Message
from conformance.suite.identities import Credentials
from conformance.suite.manifest import Suite, load_suite
from conformance.suite.model import Case, Expectation, Step
from conformance.suite.results import CaseResult, RunInfo, Status, StepResult
from gateway.envelope import PartyRef, read_header
from gateway.errors import ErrorCode, Problem
from gateway.receipts import ReceiptBuilder
from gateway.signing.keys import SigningIdentity, load_certificates
from gateway.signing.pki import CertificateAuthority, write_identity
from gateway.xmlsafe import parse

PRIMARY = "0309876543"  # logistics, RSA-2048: the party the suite signs as
SUSPENDED = "0399000001"  # a trader, suspended, registered for these tests only
SLOW_CLIENT_DEADLINES = {"header_timeout_s": 3.0, "body_timeout_s": 3.0}


@pytest.fixture(scope="session")
def suite() -> Suite:
    return load_suite()


@dataclass(frozen=True)
class SuiteIdentities:
    """What a full run is given: --identities, --parties and --ca."""

    directory: Path
    parties_file: Path
    ca: Path

    def key(self, party: str) -> Path:
        return self.directory / f"{party}.key.pem"

    def cert(self, party: str) -> Path:
        return self.directory / f"{party}.cert.pem"

    def credentials(self, primary: str = PRIMARY) -> Credentials:
        return Credentials.load(
            primary,
            self.key(primary),
            self.cert(primary),
            self.ca,
            identities_dir=self.directory,
            parties_file=self.parties_file,
        )

    def options(self, primary: str = PRIMARY) -> list[str]:
        """The command line options of `gateway-conformance run` and `export` for these identities."""
        return [
            "--party",
            primary,
            "--key",
            str(self.key(primary)),
            "--cert",
            str(self.cert(primary)),
            "--ca",
            str(self.ca),
            "--identities",
            str(self.directory),
            "--parties",
            str(self.parties_file),
        ]


@pytest.fixture(scope="session")
def suite_identities(pki_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SuiteIdentities:
    """The test PKI's identities and CA key, plus a suspended party's; parties.toml with that party added."""
    directory = tmp_path_factory.mktemp("suite-identities")
    for source in pki_dir.glob("*.pem"):
        shutil.copy2(source, directory / source.name)
    key = serialization.load_pem_private_key((pki_dir / "ca.key.pem").read_bytes(), password=None)
    ca = CertificateAuthority(key, load_certificates(pki_dir / "ca.pem")[0])  # type: ignore[arg-type]
    write_identity(directory, SUSPENDED, ca.issue("Suspended Trading Co", SUSPENDED, "rsa-2048"))

    with (REPO / "config" / "parties.toml").open("rb") as handle:
        entries = tomllib.load(handle)["party"]
    entries.append(
        {
            "id": SUSPENDED,
            "name": "Suspended Trading Co",
            "country": "VN",
            "roles": ["trader"],
            "status": "suspended",
            "certificates": [str(directory / f"{SUSPENDED}.cert.pem")],
        }
    )
    lines = []
    for entry in entries:
        lines.append("[[party]]")
        lines.extend(f"{name} = {json.dumps(value, ensure_ascii=False)}" for name, value in entry.items())
    parties_file = directory / "parties.toml"
    parties_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return SuiteIdentities(directory, parties_file, pki_dir / "ca.pem")


def suite_sections(suite_identities: SuiteIdentities) -> dict[str, dict[str, object]]:
    """The sections of a gateway configuration for the suite: the suspended party registered, and no CRL: the
    suite's revoked signer is revoked only in its own OCSP responder's answers, and a current CRL of the same CA
    (which does not list it) would answer first. Short header and body deadlines: the slow-client cases then wait
    seconds for the gateway to close their connections, not the default's ten."""
    registry = {
        "parties": str(suite_identities.parties_file),
        **{name: str(REPO / "config" / f"{name}.toml") for name in ("business", "risk", "partners")},
    }
    return {"registry": registry, "revocation": {"crls": []}, "http": SLOW_CLIENT_DEADLINES}


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str, suite_identities: SuiteIdentities) -> Path:
    """Overrides conftest's: the test configuration for the suite (`suite_sections`)."""
    return write_config(tmp_path / "config", pki_dir, namespace, **suite_sections(suite_identities))


@pytest.fixture(scope="session")
def builder(suite_identities: SuiteIdentities) -> Builder:
    return Builder(suite_identities.credentials())


@pytest.fixture(scope="session")
def case_of(suite: Suite) -> Callable[[str], Case]:
    by_id = {case.id: case for case in suite.cases}
    return by_id.__getitem__


def receipt_for(message: Message, signer: SigningIdentity, *codes: str, body: bytes | None = None) -> bytes:
    """A receipt for `message` as a gateway signing with `signer` would make it: accepted, or rejected with `codes`."""
    header = read_header(parse(message.body))
    receipts = ReceiptBuilder(PartyRef("VNECOMGW", "Gateway", "VN"), signer)
    digest = hashlib.sha256(message.body if body is None else body).digest()
    now = dt.datetime.now(dt.UTC)
    if not codes:
        return receipts.acceptance(header, digest, now).body
    problems = tuple(Problem(ErrorCode[code], "why") for code in codes)
    return receipts.rejection(header, header.sender, digest, now, problems).body


HOSTILE = b'<Envelope><!-- </pre><script>alert("x")</script> --><a>&amp;\x00\x01</a></Envelope>' + "ệ".encode("utf-16")


@pytest.fixture(scope="session")
def results() -> list[CaseResult]:
    """One passed, one failed (with a hostile message and title) and one skipped case."""
    passed = Case("x.passed", "Passes", "c", "w", ("xml",), (Step("message", Expectation(True), sample="ECOM_ORDER"),))
    refused = Expectation(False, frozenset({"XML_DTD_FORBIDDEN"}))
    failed = Case(
        "x.failed",
        "Fails <b>&amp; shouts</b>",
        "checks <i>",
        "why",
        ("security", "xml"),
        (Step("message", refused, sample="ECOM_ORDER"),),
    )
    skipped = Case(
        "x.skipped", "Skipped", "c", "w", ("signature",), (Step("message", Expectation(True), sample="ECOM_ORDER"),)
    )
    failing_step = StepResult(
        "message",
        refused.describe(),
        "accepted (HTTP 200)",
        ("XML_X: <why>",),
        ("expected a rejection with XML_DTD_FORBIDDEN, got an acceptance",),
        HOSTILE,
        b"<receipt/>",
    )
    return [
        CaseResult(
            passed,
            Status.PASSED,
            (StepResult("message", "accepted", "accepted", (), (), b"<ok/>", b"<r/>"),),
            seconds=0.5,
        ),
        CaseResult(failed, Status.FAILED, (failing_step,), seconds=0.25),
        CaseResult(skipped, Status.SKIPPED, reason="needs <the CA key> & more"),
    ]


@pytest.fixture(scope="session")
def run_info() -> RunInfo:
    return RunInfo("http://gateway.example", "http", PRIMARY, "1", 7, dt.datetime(2026, 3, 11, tzinfo=dt.UTC), 1.5)


@dataclass(frozen=True)
class Outcomes:
    """What a run's JUnit report says: the ids of the failed and of the skipped cases, and how many ran."""

    failed: set[str]
    skipped: set[str]
    total: int

    @classmethod
    def read(cls, junit: Path) -> Outcomes:
        cases = list(etree.parse(str(junit)).getroot().iter("testcase"))

        def having(child: str) -> set[str]:
            return {case.get("name").split(":", 1)[0] for case in cases if case.find(child) is not None}

        return cls(having("failure"), having("skipped"), len(cases))
