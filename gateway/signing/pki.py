"""A development PKI: a CA, the gateway's key and one key per registered party.

Production deployments use certificates issued by the customs CA or a licensed
Vietnamese CA; this module exists so that a fresh checkout can run end to end
without any private key ever being committed.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from gateway.signing.keys import SigningIdentity, load_certificates

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
KEY_KINDS = ("rsa-2048", "rsa-3072", "ec-p256", "ec-p384")


def new_key(kind: str) -> PrivateKey:
    """A fresh private key: "rsa-2048", "rsa-3072", "ec-p256" or "ec-p384" (and weaker ones for tests)."""
    family, _, size = kind.partition("-")
    if family == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=int(size))
    curves = {"p256": ec.SECP256R1, "p384": ec.SECP384R1, "p521": ec.SECP521R1, "secp256k1": ec.SECP256K1}
    if family == "ec" and size in curves:
        return ec.generate_private_key(curves[size]())
    raise ValueError(f"unknown key kind {kind!r}; use one of {', '.join(KEY_KINDS)}")


def name(common_name: str, country: str = "VN", organization: str | None = None, uid: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, country)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    if uid:
        attributes.append(x509.NameAttribute(NameOID.USER_ID, uid))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def issue_certificate(
    subject: x509.Name,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    issuer_key: PrivateKey,
    issuer: x509.Name | None = None,
    *,
    ca: bool = False,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    hash_algorithm: hashes.HashAlgorithm | None = None,
    extensions: Sequence[x509.ExtensionType] = (),
) -> x509.Certificate:
    """Issue (or self-sign, when `issuer` is None) a certificate for `public_key`, with `extensions` (not critical)."""
    now = dt.datetime.now(dt.UTC)
    not_before = not_before or now - dt.timedelta(minutes=5)
    not_after = not_after or not_before + dt.timedelta(days=3650 if ca else 730)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(issuer_key, hash_algorithm or hashes.SHA256())


@dataclass(frozen=True)
class CertificateAuthority:
    key: PrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(cls, common_name: str = "Development Customs Gateway CA", country: str = "VN") -> CertificateAuthority:
        key = new_key("ec-p384")
        subject = name(common_name, country, organization="Development PKI (not for production)")
        return cls(key, issue_certificate(subject, key.public_key(), key, ca=True))

    def issue(self, common_name: str, uid: str, kind: str, country: str = "VN", **validity: dt.datetime) -> SigningIdentity:
        key = new_key(kind)
        certificate = issue_certificate(
            name(common_name, country, uid=uid), key.public_key(), self.key, self.certificate.subject, **validity
        )
        return SigningIdentity(key, certificate)


@dataclass(frozen=True)
class PartyKeySpec:
    """What `keys init` needs to know of a party."""

    identity: str
    name: str
    country: str
    key_kind: str


def key_path(directory: Path, identity: str) -> Path:
    return directory / f"{identity}.key.pem"


def cert_path(directory: Path, identity: str) -> Path:
    return directory / f"{identity}.cert.pem"


def init_pki(directory: Path, parties: Iterable[PartyKeySpec], force: bool = False) -> list[str]:
    """Create the CA (once) and a key and certificate for every party that lacks one.

    Returns the identities for which keys were made. Existing keys are kept unless
    `force` is set, so running it again after adding a party only adds that party.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca = _load_or_create_ca(directory, force)
    made = []
    for party in parties:
        if key_path(directory, party.identity).exists() and not force:
            continue
        identity = ca.issue(party.name, party.identity, party.key_kind, party.country)
        write_identity(directory, party.identity, identity)
        made.append(party.identity)
    return made


def write_identity(directory: Path, identity: str, signing: SigningIdentity) -> None:
    _write_private(key_path(directory, identity), _pem_key(signing.private_key))
    cert_path(directory, identity).write_bytes(
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (signing.certificate, *signing.intermediates))
    )


def load_ca(directory: Path) -> CertificateAuthority:
    """The development CA in `directory` (made when there is none)."""
    return _load_or_create_ca(directory, force=False)


def _load_or_create_ca(directory: Path, force: bool) -> CertificateAuthority:
    ca_key, ca_cert = directory / "ca.key.pem", directory / "ca.pem"
    if ca_key.exists() and ca_cert.exists() and not force:
        key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise ValueError(f"{ca_key}: the CA key must be RSA or ECDSA")
        return CertificateAuthority(key, load_certificates(ca_cert)[0])
    ca = CertificateAuthority.create()
    _write_private(ca_key, _pem_key(ca.key))
    ca_cert.write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
    return ca


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode given to open() applies only when the file is created
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
