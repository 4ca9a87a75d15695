"""The algorithm policy over the whole certificate path (a weak link anywhere is CERTIFICATE_CHAIN_WEAK)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes

from conformance import certificate_attacks
from gateway.errors import ErrorCode
from gateway.signing.keys import der_of
from gateway.signing.pki import CertificateAuthority, issue_certificate, name, new_key
from gateway.signing.trust import TrustStore


@pytest.fixture(scope="module")
def anchor() -> CertificateAuthority:
    return CertificateAuthority.create("Chain Policy Test CA")


def codes(store: TrustStore, leaf: bytes, intermediates: list[bytes]) -> list[ErrorCode]:
    return [problem.code for problem in store.check(leaf, intermediates)]


def test_a_strong_chain_through_an_intermediate_is_trusted(anchor: CertificateAuthority) -> None:
    key = new_key("ec-p256")
    intermediate = issue_certificate(name("Good Intermediate"), key.public_key(), anchor.key, anchor.certificate.subject, ca=True)
    leaf_key = new_key("ec-p256")
    leaf = issue_certificate(name("Signer", uid="X"), leaf_key.public_key(), key, intermediate.subject)

    assert codes(TrustStore([anchor.certificate]), der_of(leaf), [der_of(intermediate)]) == []


def test_an_rsa_1024_intermediate_is_a_weak_chain(anchor: CertificateAuthority) -> None:
    signer = certificate_attacks.weak_intermediate(anchor, "Signer", "X")
    store = TrustStore([anchor.certificate])

    problems = store.check(der_of(signer.certificate), [der_of(c) for c in signer.intermediates])

    assert [p.code for p in problems] == [ErrorCode.CERTIFICATE_CHAIN_WEAK]
    assert "1024" in problems[0].message and "Weak Intermediate" in problems[0].message


def test_an_intermediate_signed_with_sha224_is_a_weak_chain(anchor: CertificateAuthority) -> None:
    signer = certificate_attacks.weak_hash_intermediate(anchor, "Signer", "X")
    store = TrustStore([anchor.certificate])

    problems = store.check(der_of(signer.certificate), [der_of(c) for c in signer.intermediates])

    assert [p.code for p in problems] == [ErrorCode.CERTIFICATE_CHAIN_WEAK]
    assert "sha224" in problems[0].message


def test_a_leaf_signed_with_sha224_by_the_anchor_is_a_weak_chain(anchor: CertificateAuthority) -> None:
    key = new_key("ec-p256")
    leaf = issue_certificate(
        name("Signer", uid="X"), key.public_key(), anchor.key, anchor.certificate.subject, hash_algorithm=hashes.SHA224()
    )

    assert codes(TrustStore([anchor.certificate]), der_of(leaf), []) == [ErrorCode.CERTIFICATE_CHAIN_WEAK]


def test_a_weak_anchor_is_a_weak_chain() -> None:
    weak_key = new_key("rsa-1024")
    weak_anchor = issue_certificate(name("Weak Anchor"), weak_key.public_key(), weak_key, ca=True)
    key = new_key("ec-p256")
    leaf = issue_certificate(name("Signer", uid="X"), key.public_key(), weak_key, weak_anchor.subject)

    assert codes(TrustStore([weak_anchor]), der_of(leaf), []) == [ErrorCode.CERTIFICATE_CHAIN_WEAK]
