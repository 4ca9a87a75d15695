"""Keys and certificates: loading them, and the checks on their strength."""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from gateway.signing.algorithms import ALLOWED_CURVES, MIN_RSA_BITS
from gateway.signing.bounded_cache import BoundedCache


def fingerprint(certificate: x509.Certificate) -> str:
    """The SHA-256 fingerprint of a certificate's DER encoding, as lowercase hex."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


class CertificateUnreadable(ValueError):
    """A certificate some part of which (DER, a name, an extension, the key) cannot be decoded."""


_DECODED: BoundedCache[x509.Certificate] = BoundedCache(max_bytes=4 * 1024 * 1024)


def certificate_from_der(der: bytes) -> x509.Certificate:
    """Decode every part of a DER certificate now, or raise `CertificateUnreadable`.

    cryptography decodes names, extensions and the key lazily and raises whatever it
    finds (ValueError, DuplicateExtension, UnsupportedGeneralNameType...) wherever a part
    is first touched: in path building, in a log line. Touching every part here turns
    each such failure into one certificate error where the certificate arrives. Cached,
    because the same few certificates arrive all day, in a cache bounded in bytes, because
    anonymous requests carry them too.
    """
    return _DECODED.get(der, len(der), lambda: _decode_completely(der))


def _decode_completely(der: bytes) -> x509.Certificate:
    try:
        certificate = x509.load_der_x509_certificate(der)
        certificate.subject.rfc4514_string()
        certificate.issuer.rfc4514_string()
        for extension in certificate.extensions:
            _ = extension.value
        certificate.public_key()
        _ = (certificate.signature_hash_algorithm, certificate.not_valid_before_utc, certificate.not_valid_after_utc)
    except Exception as exc:  # cryptography raises several unrelated types for bad input
        raise CertificateUnreadable(f"{type(exc).__name__}: {exc}") from None
    return certificate


def der_of(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def public_key_of(certificate: x509.Certificate) -> PublicKeyTypes:
    """A certificate's public key (not cached: certificates from KeyInfo are anyone's)."""
    return certificate.public_key()


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM file, in file order."""
    return x509.load_pem_x509_certificates(path.read_bytes())


def key_type(key: PublicKeyTypes | PrivateKeyTypes) -> str:
    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        return "rsa"
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        return "ec"
    raise ValueError(f"unsupported key type {type(key).__name__}")


def key_weakness(key: PublicKeyTypes) -> str | None:
    """Why a public key is not strong enough for the profile, or None when it is."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            return f"RSA key of {key.key_size} bits; at least {MIN_RSA_BITS} are required"
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ALLOWED_CURVES):
            return f"elliptic curve {key.curve.name} is not allowed; use P-256 or P-384"
        return None
    return f"{type(key).__name__} keys are not allowed; use RSA or ECDSA"


def _public_key_info(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class SigningIdentity:
    """A private key with its certificate (and any intermediates) for signing envelopes."""

    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    intermediates: tuple[x509.Certificate, ...] = ()

    @classmethod
    def load(cls, key_path: Path, cert_path: Path) -> SigningIdentity:
        private_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(private_key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise ValueError(f"{key_path}: only RSA and ECDSA keys can sign envelopes")
        certificate, *intermediates = load_certificates(cert_path)
        if _public_key_info(certificate.public_key()) != _public_key_info(private_key.public_key()):
            raise ValueError(f"{cert_path} does not certify the key in {key_path}")
        return cls(private_key, certificate, tuple(intermediates))

    @property
    def key_type(self) -> str:
        return key_type(self.private_key)

    @functools.cached_property
    def certificates_base64(self) -> tuple[str, ...]:
        """The certificate chain as KeyInfo carries it (computed once: receipts are signed all day)."""
        return tuple(base64.b64encode(der_of(c)).decode("ascii") for c in (self.certificate, *self.intermediates))
