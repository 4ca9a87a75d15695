"""Fixtures for the signing tests: throw-away certificate authorities and signing identities.

Keys are made once per session and per kind (RSA-3072 generation is slow), so every
module signs with the same few identities.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from gateway.signing.keys import SigningIdentity
from gateway.signing.pki import CertificateAuthority


@pytest.fixture(scope="session")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create("Signing Tests CA")


@pytest.fixture(scope="session")
def other_ca() -> CertificateAuthority:
    """A second, unrelated authority (a CA nobody configured as an anchor)."""
    return CertificateAuthority.create("Somebody Else's CA")


@pytest.fixture(scope="session")
def identity_of(ca: CertificateAuthority) -> Callable[..., SigningIdentity]:
    """identity_of(kind, party="0101234567"): a cached identity issued by `ca`."""
    cache: dict[tuple[str, str], SigningIdentity] = {}

    def make(kind: str, party: str = "0101234567") -> SigningIdentity:
        if (kind, party) not in cache:
            cache[(kind, party)] = ca.issue(f"Party {party}", party, kind)
        return cache[(kind, party)]

    return make


@pytest.fixture(scope="session")
def ca_pem_file(ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test CA as a PEM file, for signxml's `ca_pem_file`."""
    path = tmp_path_factory.mktemp("signing-ca") / "ca.pem"
    path.write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
    return path
