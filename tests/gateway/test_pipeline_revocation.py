"""Revocation in the intake pipeline: a revoked signer gets a signed CERTIFICATE_REVOKED rejection under soft and
hard; an accepted message is stored with its signer's revocation status and where it came from."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from conftest import assembled, settings_for
from conformance.suite.ocsp_responder import OcspResponder
from support import MessageFactory, write_config

from conformance import SAMPLE_SENDERS
from gateway import client
from gateway.config import Settings
from gateway.pipeline import Pipeline, Transport
from gateway.schemas.registry import SchemaRegistry
from gateway.services import Services
from gateway.signing.keys import load_certificates
from gateway.signing.pki import load_ca

REVOKED_PARTY = SAMPLE_SENDERS["ECOM_DECLARATION"]  # revoked; ECOM_ORDER's sample sender is not
HTTP = Transport("http")


@pytest.fixture(params=["soft", "hard"])
def policy(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str, policy: str) -> Path:
    """Overrides conftest's: the test PKI's CA with a CRL that revokes REVOKED_PARTY's certificate."""
    ca = load_ca(pki_dir)
    now = dt.datetime.now(dt.UTC)
    serial = load_certificates(pki_dir / f"{REVOKED_PARTY}.cert.pem")[0].serial_number
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - dt.timedelta(minutes=1))
        .next_update(now + dt.timedelta(days=1))
        .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
        .sign(ca.key, hashes.SHA256())
    )
    crl_file = tmp_path / "ca.crl.pem"
    crl_file.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return write_config(tmp_path / "config", pki_dir, namespace, revocation={"policy": policy, "crls": [str(crl_file)]})


@pytest.mark.stores("sqlite")
def test_a_revoked_signer_is_refused_and_a_good_one_stored_with_its_status(
    policy: str, pipeline: Pipeline, services: Services, messages: MessageFactory
) -> None:
    services.revocation.crls.refresh()  # what the timer does at start, done before the first message here

    refused = pipeline.submit(messages.signed("ECOM_DECLARATION", party=REVOKED_PARTY), HTTP)
    accepted = pipeline.submit(messages.signed("ECOM_ORDER"), HTTP)

    assert (refused.status, refused.codes) == (403, ("CERTIFICATE_REVOKED",))
    assert client.read_receipt(refused.receipt, services.trust).status == "REJECTED"  # signed, like every rejection
    assert accepted.accepted, accepted.codes
    stored = services.store.get(SAMPLE_SENDERS["ECOM_ORDER"], accepted.message_id)
    assert stored is not None and (stored.revocation_status, stored.revocation_source) == ("good", "crl")


@pytest.fixture
def responder(pki_dir: Path) -> Iterator[OcspResponder]:
    """The test PKI's CA's OCSP responder, answering after 3 s (beyond the gateway's timeout of 0.5 s)."""
    running = OcspResponder(load_ca(pki_dir))
    running.delay_s = 3.0
    yield running
    running.close()


@pytest.mark.stores("sqlite")
@pytest.mark.parametrize(("policy_of_ca", "accepted"), [("soft", True), ("hard", False)])
def test_a_slow_responder_delays_intake_by_its_timeout_at_most(
    policy_of_ca: str,
    accepted: bool,
    tmp_path: Path,
    pki_dir: Path,
    namespace: str,
    db_url: str,
    responder: OcspResponder,
    schemas: Callable[[Settings], SchemaRegistry],
    messages: MessageFactory,
) -> None:
    revocation = {"policy": policy_of_ca, "crls": [], "ocsp": responder.url, "ocsp_timeout_s": 0.5}
    config = write_config(tmp_path / "slow", pki_dir, namespace, revocation=revocation)
    with assembled(settings_for(config, db_url), schemas) as built:
        pipeline = built.pipeline()
        started = time.perf_counter()
        outcome = pipeline.submit(messages.signed("ECOM_ORDER"), HTTP)
        took = time.perf_counter() - started

        assert outcome.accepted is accepted, outcome.codes
        assert took < 0.5 + 1.0  # the OCSP timeout, and the rest of intake
        if accepted:
            stored = built.services.store.get(SAMPLE_SENDERS["ECOM_ORDER"], outcome.message_id)
            assert stored is not None and (stored.revocation_status, stored.revocation_source) == ("unknown", "ocsp")
        else:
            assert outcome.codes == ("CERTIFICATE_STATUS_UNKNOWN",)
