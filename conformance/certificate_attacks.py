"""Attack certificates: malformed ones a gateway must refuse as certificate errors, and weak chains.

Each malformed certificate is otherwise well made: issued for the real signer's public key
by the given authority and re-signed after the damage, so that only the parsing rule can
refuse it (a verifier that checks signatures first still meets a certificate it must read).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from lxml import etree

from gateway.envelope import DSIG_NS
from gateway.signing.keys import SigningIdentity, der_of
from gateway.signing.pki import CertificateAuthority, PrivateKey, issue_certificate, name, new_key
from gateway.signing.sign import serialize

_PRIVATE_ARC = "1.3.6.1.4.1.55555.1"  # an unregistered private arc: the extensions mean nothing
_MARK = b"MALFORMED"


def duplicated_extension(ca: CertificateAuthority, public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    """A certificate for `public_key` carrying one extension twice (RFC 5280 4.2 forbids it).

    Two private extensions whose OIDs differ in their last byte are issued, then the second
    OID is rewritten into the first and the certificate re-signed.
    """
    first, second = (x509.ObjectIdentifier(f"{_PRIVATE_ARC}.{n}") for n in (1, 2))
    certificate = _issue(ca, public_key, "Duplicated Extension", (first, second))
    return _resigned(der_of(certificate).replace(_oid_der(second), _oid_der(first)), ca.key)


def non_utf8_subject(ca: CertificateAuthority, public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    """A certificate for `public_key` whose subject common name (a UTF8String) is not UTF-8."""
    certificate = _issue(ca, public_key, f"Bad Name {_MARK.decode()}", ())
    return _resigned(der_of(certificate).replace(_MARK, b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1"), ca.key)


def weak_intermediate(ca: CertificateAuthority, common_name: str, uid: str, bits: int = 1024) -> SigningIdentity:
    """A strong signing key certified by an RSA-`bits` intermediate CA that `ca` certified.

    Rule: every certificate on the path meets the key policy (CERTIFICATE_CHAIN_WEAK).
    """
    intermediate_key = new_key(f"rsa-{bits}")
    intermediate = issue_certificate(
        name(f"Weak Intermediate CA {bits}"), intermediate_key.public_key(), ca.key, ca.certificate.subject, ca=True
    )
    return _issued_below(intermediate_key, intermediate, common_name, uid)


def weak_hash_intermediate(ca: CertificateAuthority, common_name: str, uid: str) -> SigningIdentity:
    """A strong signing key certified by an intermediate that `ca` signed with SHA-224 (CERTIFICATE_CHAIN_WEAK).

    SHA-224 rather than SHA-1: current OpenSSL builds refuse to make SHA-1 signatures at all.
    """
    intermediate_key = new_key("ec-p256")
    intermediate = issue_certificate(
        name("SHA-224 Intermediate CA"), intermediate_key.public_key(), ca.key, ca.certificate.subject,
        ca=True, hash_algorithm=hashes.SHA224(),  # the weakness under test
    )
    return _issued_below(intermediate_key, intermediate, common_name, uid)


def padded_certificate(public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | None, size: int) -> bytes:
    """A well-formed certificate of about `size` bytes, each one distinct (random padding in a private extension).

    Issued by a throw-away key nobody trusts: for `public_key` (a signer's key, so that a
    replayed signature still verifies with it) or, when None, self-signed as a CA.
    Rule: nothing an unauthenticated request carries stays in memory (see bounded_cache.py).
    """
    issuer_key = new_key("ec-p256")
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name("Padded Certificate"))
        .issuer_name(name("Nobody's CA"))
        .public_key(public_key or issuer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=public_key is None, path_length=None), critical=True)
        .add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier(f"{_PRIVATE_ARC}.3"), os.urandom(size)), critical=False
        )
    )
    return der_of(builder.sign(issuer_key, hashes.SHA256()))


def malformed_in_key_info(signed: bytes, identity: SigningIdentity, kind: str, position: str) -> bytes:
    """`signed` with a malformed certificate for the signer's key in KeyInfo, as the leaf or after it.

    kind: "duplicated-extension" or "non-utf8-subject"; position: "leaf" or "intermediate".
    Rule: every certificate problem is CERTIFICATE_INVALID, never an internal error.
    """
    makers = {"duplicated-extension": duplicated_extension, "non-utf8-subject": non_utf8_subject}
    malformed = makers[kind](CertificateAuthority.create("Conformance Malformed-Certificate CA"), identity.certificate.public_key())
    chain = [malformed] if position == "leaf" else [der_of(identity.certificate), malformed]
    return with_key_info_certificates(signed, chain)


def large_in_key_info(signed: bytes, identity: SigningIdentity, size: int) -> bytes:
    """`signed` with a distinct certificate of about `size` bytes for the signer's key as KeyInfo's certificate."""
    return with_key_info_certificates(signed, [padded_certificate(identity.certificate.public_key(), size)])


def with_key_info_certificates(signed: bytes, ders: Sequence[bytes]) -> bytes:
    """`signed` with its KeyInfo's certificates replaced by `ders` (KeyInfo is not covered by the digest)."""
    root = etree.fromstring(signed)
    x509_data = root.find(f"{{{DSIG_NS}}}Signature/{{{DSIG_NS}}}KeyInfo/{{{DSIG_NS}}}X509Data")
    for element in list(x509_data):
        x509_data.remove(element)
    for der in ders:
        etree.SubElement(x509_data, f"{{{DSIG_NS}}}X509Certificate").text = base64.b64encode(der).decode("ascii")
    return serialize(root)


def _issued_below(
    intermediate_key: PrivateKey, intermediate: x509.Certificate, common_name: str, uid: str
) -> SigningIdentity:
    key = new_key("ec-p256")
    certificate = issue_certificate(name(common_name, uid=uid), key.public_key(), intermediate_key, intermediate.subject)
    return SigningIdentity(key, certificate, (intermediate,))


def _issue(
    ca: CertificateAuthority,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    common_name: str,
    extra_extensions: Sequence[x509.ObjectIdentifier],
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(common_name))
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    for oid in extra_extensions:
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, b"\x05\x00"), critical=False)
    return builder.sign(ca.key, hashes.SHA256())


def _resigned(der: bytes, issuer_key: PrivateKey) -> bytes:
    """`der` (a Certificate whose TBSCertificate was edited in place) with a fresh issuer signature."""
    outer_header, _ = _tlv(der, 0)
    tbs_header, tbs_length = _tlv(der, outer_header)
    tbs_end = outer_header + tbs_header + tbs_length
    tbs = der[outer_header:tbs_end]
    algorithm_header, algorithm_length = _tlv(der, tbs_end)
    algorithm = der[tbs_end : tbs_end + algorithm_header + algorithm_length]
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        signature = issuer_key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    else:
        signature = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    bit_string = b"\x03" + _length(len(signature) + 1) + b"\x00" + signature
    content = tbs + algorithm + bit_string
    return b"\x30" + _length(len(content)) + content


def _tlv(der: bytes, offset: int) -> tuple[int, int]:
    """(header size, content length) of the DER element at `offset`."""
    first = der[offset + 1]
    if first < 0x80:
        return 2, first
    count = first & 0x7F
    return 2 + count, int.from_bytes(der[offset + 2 : offset + 2 + count], "big")


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    encoded = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def _oid_der(oid: x509.ObjectIdentifier) -> bytes:
    arcs = [int(arc) for arc in oid.dotted_string.split(".")]
    content = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        content.extend(reversed(chunk))
    return b"\x06" + _length(len(content)) + bytes(content)
