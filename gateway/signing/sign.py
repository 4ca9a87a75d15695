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
from gateway.signing.canonical import canonicalize
from gateway.signing.keys import SigningIdentity

_C14N = Canonicalization.EXCLUSIVE
_NSMAP = {"ds": DSIG}


def _ds(parent: etree._Element, local: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{DSIG}}}{local}", attributes, nsmap=_NSMAP)
    element.text = text
    return element


def sign_envelope(root: etree._Element, identity: SigningIdentity) -> etree._Element:
    """Append an enveloped signature to `root` (which must not already carry one) and return it."""
    if root.find(f"{{{DSIG}}}Signature") is not None:
        raise ValueError("the envelope is already signed")
    algorithm = signature_algorithm_for(identity.key_type)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(canonicalize(root, _C14N))

    signature = etree.SubElement(root, f"{{{DSIG}}}Signature", nsmap=_NSMAP)
    signed_info = _ds(signature, "SignedInfo")
    _ds(signed_info, "CanonicalizationMethod", Algorithm=_C14N.uri)
    _ds(signed_info, "SignatureMethod", Algorithm=algorithm.uri)
    reference = _ds(signed_info, "Reference", URI="")
    transforms = _ds(reference, "Transforms")
    _ds(transforms, "Transform", Algorithm=ENVELOPED_SIGNATURE)
    _ds(transforms, "Transform", Algorithm=_C14N.uri)
    _ds(reference, "DigestMethod", Algorithm=SHA256_DIGEST)
    _ds(reference, "DigestValue", base64.b64encode(digest.finalize()).decode("ascii"))

    value = _sign_bytes(identity, canonicalize(signed_info, _C14N), algorithm.hash())
    _ds(signature, "SignatureValue", base64.b64encode(value).decode("ascii"))
    x509_data = _ds(_ds(signature, "KeyInfo"), "X509Data")
    for encoded in identity.certificates_base64:
        _ds(x509_data, "X509Certificate", encoded)
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
