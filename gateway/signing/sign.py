"""Signing envelopes in the gateway's profile: enveloped, exclusive c14n, SHA-256."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from gateway.signing.algorithms import (
    DSIG,
    ENVELOPED_SIGNATURE,
    SHA256_DIGEST,
    Canonicalization,
    signature_algorithm_for,
)
from gateway.signing.canonical import canonical_digest
from gateway.signing.keys import SigningIdentity

_C14N = Canonicalization.EXCLUSIVE


def sign_envelope(root: etree._Element, identity: SigningIdentity) -> etree._Element:
    """Append an enveloped signature to `root` (which must not already carry one) and return it.

    The SignedInfo is written as text in its canonical form (exclusive c14n: the `ds`
    declaration on it, every element with an end tag, attribute values that need no
    escaping), so it is signed as written instead of being built element by element and
    canonicalised again; the verifier canonicalises what it finds and gets the same bytes.
    """
    if root.find(f"{{{DSIG}}}Signature") is not None:
        raise ValueError("the envelope is already signed")
    algorithm = signature_algorithm_for(identity.key_type)
    digest = base64.b64encode(canonical_digest(root, _C14N)).decode("ascii")
    signed_info = (
        f'<ds:CanonicalizationMethod Algorithm="{_C14N.uri}"></ds:CanonicalizationMethod>'
        f'<ds:SignatureMethod Algorithm="{algorithm.uri}"></ds:SignatureMethod>'
        '<ds:Reference URI=""><ds:Transforms>'
        f'<ds:Transform Algorithm="{ENVELOPED_SIGNATURE}"></ds:Transform>'
        f'<ds:Transform Algorithm="{_C14N.uri}"></ds:Transform>'
        f'</ds:Transforms><ds:DigestMethod Algorithm="{SHA256_DIGEST}"></ds:DigestMethod>'
        f"<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference>"
    )
    canonical = f'<ds:SignedInfo xmlns:ds="{DSIG}">{signed_info}</ds:SignedInfo>'
    value = base64.b64encode(_sign_bytes(identity, canonical.encode("ascii"), algorithm.hash())).decode("ascii")
    certificates = "".join(f"<ds:X509Certificate>{encoded}</ds:X509Certificate>" for encoded in identity.certificates_base64)
    signature = (
        f'<ds:Signature xmlns:ds="{DSIG}"><ds:SignedInfo>{signed_info}</ds:SignedInfo>'
        f"<ds:SignatureValue>{value}</ds:SignatureValue>"
        f"<ds:KeyInfo><ds:X509Data>{certificates}</ds:X509Data></ds:KeyInfo></ds:Signature>"
    )
    root.append(etree.fromstring(signature))
    return root


def sign_bytes(document: bytes, identity: SigningIdentity) -> bytes:
    """Sign a serialised, trusted envelope (e.g. one of our own files) and serialise it again."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(document, parser)
    return serialize(sign_envelope(root, identity))


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _sign_bytes(identity: SigningIdentity, data: bytes, hash_algorithm: hashes.HashAlgorithm) -> bytes:
    key = identity.private_key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hash_algorithm)))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return key.sign(data, padding.PKCS1v15(), hash_algorithm)
