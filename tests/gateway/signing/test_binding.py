"""Binding a signature to its party: a partner single window's CA vouches for that partner's party id only."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import SAMPLES_DIR
from gateway import client, xmlsafe
from gateway.parties import Party, PartyRegistry
from gateway.signing.binding import signer_problems
from gateway.signing.keys import SigningIdentity, der_of
from gateway.signing.pki import CertificateAuthority
from gateway.signing.trust import TrustStore
from gateway.signing.verify import VerifiedSignature, verify_envelope
from gateway.store.engine import make_engine


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[PartyRegistry]:
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    yield PartyRegistry(engine)  # empty: no certificate has an owner to name
    engine.dispose()


def signed_by(identity: SigningIdentity) -> VerifiedSignature:
    return verify_envelope(xmlsafe.parse(client.sign(client.load_envelope(SAMPLES_DIR / "ACDD.xml"), identity)))


def party(identity: str, signer: SigningIdentity, anchors: tuple[CertificateAuthority, ...] = ()) -> Party:
    certificate = signer.certificate
    return Party(
        identity, identity, "SG", frozenset({"asw_partner"}),
        certificates={hashlib.sha256(der_of(certificate)).hexdigest(): certificate},
        anchors=tuple(a.certificate for a in anchors),
    )


def codes(problems: list) -> list[str]:  # type: ignore[type-arg]
    return [p.code.name for p in problems]


def test_the_partners_own_ca_vouches_for_the_partner(ca: CertificateAuthority, other_ca: CertificateAuthority, registry: PartyRegistry) -> None:
    trust = TrustStore([ca.certificate])  # our anchors: not the partner's CA
    partner_key = other_ca.issue("Partner gateway", "SG-ASW", "ec-p256")

    with_anchor = signer_problems("SG-ASW", party("SG-ASW", partner_key, (other_ca,)), signed_by(partner_key), trust, registry)
    without = signer_problems("SG-ASW", party("SG-ASW", partner_key), signed_by(partner_key), trust, registry)

    assert with_anchor == []
    assert codes(without) == ["CERTIFICATE_UNTRUSTED"]


def test_the_partners_ca_does_not_vouch_for_anyone_else(ca: CertificateAuthority, other_ca: CertificateAuthority, registry: PartyRegistry) -> None:
    trust = TrustStore([ca.certificate])
    partner_key = other_ca.issue("Partner gateway", "SG-ASW", "ec-p256")
    impostor_key = other_ca.issue("Vietnam NSW (issued by the partner's CA)", "VNSW", "ec-p256")
    signer_problems("SG-ASW", party("SG-ASW", partner_key, (other_ca,)), signed_by(partner_key), trust, registry)  # path cached

    # Even registered to VNSW, a certificate of the partner's CA does not make VNSW's signature.
    problems = signer_problems("VNSW", party("VNSW", impostor_key), signed_by(impostor_key), trust, registry)

    assert codes(problems) == ["CERTIFICATE_UNTRUSTED"]
