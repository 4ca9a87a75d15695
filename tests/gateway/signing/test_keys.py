"""Keys and certificates: the strength rules and loading a signing identity."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gateway.signing.keys import SigningIdentity, fingerprint, key_type, key_weakness, load_certificates
from gateway.signing.pki import CertificateAuthority, issue_certificate, name, new_key, write_identity

# --- key_weakness -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "weak"),
    [
        (lambda: rsa.generate_private_key(65537, 1024), "RSA key of 1024 bits"),
        (lambda: rsa.generate_private_key(65537, 2047), "RSA key of 2047 bits"),
        (lambda: rsa.generate_private_key(65537, 2048), None),
        (lambda: rsa.generate_private_key(65537, 3072), None),
        (lambda: ec.generate_private_key(ec.SECP256R1()), None),
        (lambda: ec.generate_private_key(ec.SECP384R1()), None),
        (lambda: ec.generate_private_key(ec.SECP521R1()), "elliptic curve secp521r1 is not allowed"),
        (lambda: ec.generate_private_key(ec.SECP256K1()), "elliptic curve secp256k1 is not allowed"),
        (lambda: ec.generate_private_key(ec.SECP224R1()), "elliptic curve secp224r1 is not allowed"),
        (lambda: ed25519.Ed25519PrivateKey.generate(), "Ed25519PublicKey keys are not allowed"),
    ],
    ids=["rsa-1024", "rsa-2047", "rsa-2048", "rsa-3072", "p-256", "p-384", "p-521", "secp256k1", "p-224", "ed25519"],
)
def test_key_weakness(make: Callable[[], object], weak: str | None) -> None:
    public_key = make().public_key()

    weakness = key_weakness(public_key)

    if weak is None:
        assert weakness is None
    else:
        assert weakness is not None and weakness.startswith(weak)


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda: rsa.generate_private_key(65537, 2048), "rsa"),
        (lambda: ec.generate_private_key(ec.SECP256R1()), "ec"),
    ],
)
def test_key_type_of_private_and_public_keys(make: Callable[[], object], kind: str) -> None:
    key = make()

    assert key_type(key) == key_type(key.public_key()) == kind


def test_key_type_refuses_other_keys() -> None:
    with pytest.raises(ValueError, match="Ed25519"):
        key_type(ed25519.Ed25519PrivateKey.generate())


def test_fingerprint_is_the_sha256_of_the_der(ca: CertificateAuthority) -> None:
    der = ca.certificate.public_bytes(serialization.Encoding.DER)

    assert fingerprint(ca.certificate) == hashlib.sha256(der).hexdigest()


# --- SigningIdentity.load -------------------------------------------------------------------


def pem_key(key: object) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def pem_certs(*certificates: object) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


@pytest.mark.parametrize("kind", ["rsa-2048", "ec-p256", "ec-p384"])
def test_load_reads_what_write_identity_wrote(
    kind: str, identity_of: Callable[..., SigningIdentity], tmp_path: Path
) -> None:
    original = identity_of(kind)
    write_identity(tmp_path, "0101234567", original)

    loaded = SigningIdentity.load(tmp_path / "0101234567.key.pem", tmp_path / "0101234567.cert.pem")

    assert loaded.certificate == original.certificate
    assert loaded.intermediates == ()
    assert loaded.key_type == kind.split("-")[0]
    assert pem_key(loaded.private_key) == pem_key(original.private_key)


def test_load_keeps_the_rest_of_the_chain_as_intermediates(ca: CertificateAuthority, tmp_path: Path) -> None:
    intermediate_key = new_key("ec-p256")
    intermediate = issue_certificate(
        name("Issuing CA"), intermediate_key.public_key(), ca.key, ca.certificate.subject, ca=True
    )
    key = new_key("ec-p256")
    leaf = issue_certificate(name("Trader"), key.public_key(), intermediate_key, intermediate.subject)
    (tmp_path / "k.pem").write_bytes(pem_key(key))
    (tmp_path / "c.pem").write_bytes(pem_certs(leaf, intermediate, ca.certificate))

    loaded = SigningIdentity.load(tmp_path / "k.pem", tmp_path / "c.pem")

    assert loaded.certificate == leaf
    assert loaded.intermediates == (intermediate, ca.certificate)
    assert load_certificates(tmp_path / "c.pem") == [leaf, intermediate, ca.certificate]


@pytest.mark.parametrize(
    ("key_kind", "cert_kind"),
    [("rsa-2048", "rsa-2048"), ("ec-p256", "ec-p256"), ("rsa-2048", "ec-p256"), ("ec-p384", "rsa-2048")],
    ids=["other-rsa-key", "other-ec-key", "rsa-key-ec-cert", "ec-key-rsa-cert"],
)
def test_load_refuses_a_certificate_for_another_key(
    key_kind: str, cert_kind: str, identity_of: Callable[..., SigningIdentity], tmp_path: Path
) -> None:
    (tmp_path / "k.pem").write_bytes(pem_key(new_key(key_kind)))
    (tmp_path / "c.pem").write_bytes(pem_certs(identity_of(cert_kind).certificate))

    with pytest.raises(ValueError, match="does not certify the key"):
        SigningIdentity.load(tmp_path / "k.pem", tmp_path / "c.pem")


def test_load_refuses_the_right_certificate_listed_second(
    identity_of: Callable[..., SigningIdentity], tmp_path: Path
) -> None:
    """The first certificate in the file is the signer's; the key must match it."""
    mine, other = identity_of("ec-p256"), identity_of("ec-p256", "0309876543")
    (tmp_path / "k.pem").write_bytes(pem_key(mine.private_key))
    (tmp_path / "c.pem").write_bytes(pem_certs(other.certificate, mine.certificate))

    with pytest.raises(ValueError, match="does not certify the key"):
        SigningIdentity.load(tmp_path / "k.pem", tmp_path / "c.pem")


def test_load_refuses_keys_that_cannot_sign_envelopes(ca: CertificateAuthority, tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    (tmp_path / "k.pem").write_bytes(pem_key(key))
    (tmp_path / "c.pem").write_bytes(pem_certs(ca.certificate))

    with pytest.raises(ValueError, match="only RSA and ECDSA keys"):
        SigningIdentity.load(tmp_path / "k.pem", tmp_path / "c.pem")


def test_load_refuses_a_certificate_for_an_ed25519_key(ca: CertificateAuthority, tmp_path: Path) -> None:
    ed_key = ed25519.Ed25519PrivateKey.generate()
    certificate = issue_certificate(name("Ed25519 Trader"), ed_key.public_key(), ca.key, ca.certificate.subject)
    (tmp_path / "k.pem").write_bytes(pem_key(new_key("ec-p256")))
    (tmp_path / "c.pem").write_bytes(pem_certs(certificate))

    with pytest.raises(ValueError, match="does not certify the key"):
        SigningIdentity.load(tmp_path / "k.pem", tmp_path / "c.pem")


@pytest.mark.parametrize("kind", ["rsa-1024", "ec-p521", "ec-secp256k1"])
def test_weak_keys_can_be_made_for_tests_but_are_named_weak(kind: str) -> None:
    """new_key() makes them (the tests need them); key_weakness() is what refuses them."""
    assert key_weakness(new_key(kind).public_key()) is not None


def test_new_key_refuses_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="unknown key kind"):
        new_key("dsa-2048")
