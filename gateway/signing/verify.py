"""A verifier for the gateway's one signature profile, working on the parsed tree.

The profile (DESIGN.md step 4): exactly one enveloped ``ds:Signature``, a direct
child of the envelope, with exactly one ``Reference URI=""`` whose transforms are
enveloped-signature optionally followed by one canonicalisation; algorithms from
the allow-list; the key in an X.509 certificate. Because the one reference covers
the whole document, the tree that was verified *is* the tree that is processed
afterwards: nothing is re-parsed, so there is nothing to wrap.

The general-purpose reference implementation is signxml; the test suite checks
that the two agree on every case and on randomised mutations.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from gateway.errors import ErrorCode
from gateway.exceptions import Rejected
from gateway.signing.algorithms import (
    DIGEST_ALGORITHMS,
    DSIG,
    ENVELOPED_SIGNATURE,
    EXC_C14N_NS,
    SIGNATURE_ALGORITHMS,
    Canonicalization,
    SignatureAlgorithm,
)
from gateway.signing.canonical import canonical_digest, canonicalize, signature_detached
from gateway.signing.exc_c14n import AmbiguousPrefix
from gateway.signing.keys import (
    CertificateUnreadable,
    certificate_from_der,
    der_of,
    key_type,
    key_weakness,
    public_key_of,
)

_SIGNATURE = f"{{{DSIG}}}Signature"
MAX_CERTIFICATE_BYTES = 16 * 1024  # the default of [intake] max_certificate_bytes
MAX_INCLUSIVE_PREFIXES = 16  # real PrefixLists name a few; each costs a lookup on every element
_XML_WHITESPACE = str.maketrans("", "", " \t\r\n")  # base64 may be wrapped with XML white space only


def _ds(local: str) -> str:
    return f"{{{DSIG}}}{local}"


@dataclass(frozen=True, slots=True)
class PresentedCertificate:
    """The signing certificate KeyInfo presents, before anything is verified with it."""

    root: etree._Element
    certificate: x509.Certificate
    certificate_der: bytes
    intermediates: tuple[bytes, ...]


Admission = Callable[[PresentedCertificate], None]


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """What a successful verification vouches for."""

    root: etree._Element  # the signed element tree (the whole envelope)
    certificate: x509.Certificate  # the certificate whose key made the signature
    certificate_der: bytes  # its DER encoding, as received
    intermediates: tuple[bytes, ...]  # DER of the other certificates from KeyInfo
    algorithm: str  # the SignatureMethod URI


def find_signature(root: etree._Element) -> etree._Element:
    """The envelope's one signature; rejects none, several, or one in the wrong place."""
    signatures = list(root.iter(_SIGNATURE))
    if not signatures:
        raise Rejected.of(ErrorCode.SIGNATURE_MISSING, "the envelope has no ds:Signature element")
    if len(signatures) > 1:
        raise Rejected.of(
            ErrorCode.SIGNATURE_MULTIPLE,
            f"the document carries {len(signatures)} ds:Signature elements; exactly one is allowed",
            ", ".join(_path(sig) for sig in signatures),
        )
    signature = signatures[0]
    if signature.getparent() is not root:
        raise Rejected.of(
            ErrorCode.SIGNATURE_MISPLACED,
            "the ds:Signature must be a direct child of the envelope",
            _path(signature),
        )
    return signature


def verify_envelope(
    root: etree._Element,
    fallback_certificates: Sequence[x509.Certificate] = (),
    max_certificate_bytes: int = MAX_CERTIFICATE_BYTES,
    admit: Admission | None = None,
) -> VerifiedSignature:
    """Verify the envelope's signature cryptographically, or raise `Rejected`.

    Trust in the certificate (chain, validity, registration) is judged elsewhere;
    this function answers only "did the holder of this key sign exactly this tree?".
    When KeyInfo carries no certificate, `fallback_certificates` (the sending
    party's registered ones) are tried instead. Everything that is cheap to check (the
    profile, the algorithms, the certificates' size and form) is checked before the
    document is canonicalised and digested; so is `admit`, given the certificate KeyInfo
    presents (the caller's cheap checks: is it registered to the sender, does it chain to an
    anchor), which raises `Rejected` to stop there.
    """
    signature = find_signature(root)
    signed_info, signature_value, key_info = _signature_parts(signature)
    c14n_element, c14n_method, algorithm, reference = _signed_info_parts(signed_info)
    transforms_element, digest_method, digest_value = _reference_parts(reference)
    transforms_c14n, inclusive_prefixes = _reference_transforms(reference, transforms_element)
    digest_algorithm, expected_digest = _reference_digest(digest_method, digest_value)
    embedded = _embedded_certificates(key_info, max_certificate_bytes)
    if embedded:
        (der, certificate), *others = embedded
        _check_key(certificate, algorithm)  # the one certificate named: say what is wrong with its key first
        if admit is not None:
            admit(PresentedCertificate(root, certificate, der, tuple(other for other, _ in others)))

    with signature_detached(signature):
        digest = _canonical_digest(root, transforms_c14n, inclusive_prefixes, digest_algorithm)
    if not hmac.compare_digest(digest, expected_digest):
        raise Rejected.of(
            ErrorCode.SIGNATURE_DIGEST_MISMATCH,
            "the digest of the envelope does not match the signed DigestValue: "
            "the envelope was changed after it was signed",
            _path(reference),
        )

    candidates = embedded[:1] or [(der_of(c), c) for c in fallback_certificates]
    if not candidates:
        raise Rejected.of(
            ErrorCode.CERTIFICATE_MISSING,
            "KeyInfo carries no X509Certificate and the party has no registered certificate",
            _path(signature),
        )
    signed_info_bytes = _canonical(signed_info, c14n_method, _prefix_list(c14n_method, c14n_element))
    for der, certificate in candidates:
        if not embedded and not _usable(certificate, algorithm):
            continue  # one of the party's registered certificates that cannot have made this signature
        if _signature_matches(certificate, algorithm, signed_info_bytes, signature_value):
            intermediates = tuple(der for der, _ in embedded[1:])
            return VerifiedSignature(root, certificate, der, intermediates, algorithm.uri)
    raise Rejected.of(
        ErrorCode.SIGNATURE_INVALID,
        "the SignatureValue does not verify with the signing certificate's key",
        _path(signature),
    )


def _canonical(element: etree._Element, method: Canonicalization, prefixes: list[str] | None) -> bytes:
    with _ambiguity_rejected(element):
        return canonicalize(element, method, prefixes)


def _canonical_digest(
    element: etree._Element, method: Canonicalization, prefixes: list[str] | None, algorithm: type[hashes.HashAlgorithm]
) -> bytes:
    with _ambiguity_rejected(element):
        return canonical_digest(element, method, prefixes, algorithm)


@contextlib.contextmanager
def _ambiguity_rejected(element: etree._Element) -> Iterator[None]:
    try:
        yield
    except AmbiguousPrefix as exc:
        raise Rejected.of(
            ErrorCode.SIGNATURE_PROFILE, f"the canonical form with #default cannot be determined: {exc}", _path(element)
        ) from None


def _signature_parts(
    signature: etree._Element,
) -> tuple[etree._Element, bytes, etree._Element | None]:
    children = _elements(signature)
    tags = [child.tag for child in children]
    if tags[:2] != [_ds("SignedInfo"), _ds("SignatureValue")] or any(
        tag != _ds("KeyInfo") for tag in tags[2:]
    ) or len(tags) > 3:
        raise Rejected.of(
            ErrorCode.SIGNATURE_PROFILE,
            "ds:Signature must hold SignedInfo, SignatureValue and an optional KeyInfo, nothing else",
            _path(signature),
        )
    value = _base64(children[1], "SignatureValue")
    return children[0], value, children[2] if len(children) == 3 else None


def _signed_info_parts(
    signed_info: etree._Element,
) -> tuple[etree._Element, Canonicalization, SignatureAlgorithm, etree._Element]:
    children = _elements(signed_info)
    tags = [child.tag for child in children]
    if tags[:2] != [_ds("CanonicalizationMethod"), _ds("SignatureMethod")]:
        raise Rejected.of(
            ErrorCode.SIGNATURE_PROFILE,
            "SignedInfo must start with CanonicalizationMethod and SignatureMethod",
            _path(signed_info),
        )
    references = children[2:]
    if len(references) != 1 or references[0].tag != _ds("Reference"):
        raise Rejected.of(
            ErrorCode.SIGNATURE_PROFILE,
            f"SignedInfo must hold exactly one Reference, found {len(references)}",
            _path(signed_info),
        )
    c14n_uri = children[0].get("Algorithm")
    c14n_method = Canonicalization.from_uri(c14n_uri)
    if c14n_method is None:
        raise Rejected.of(
            ErrorCode.SIGNATURE_ALGORITHM,
            f"canonicalisation method {c14n_uri!r} is not allowed",
            _path(children[0]),
        )
    method_uri = children[1].get("Algorithm")
    algorithm = SIGNATURE_ALGORITHMS.get(method_uri or "")
    if algorithm is None:
        raise Rejected.of(
            ErrorCode.SIGNATURE_ALGORITHM,
            f"signature method {method_uri!r} is not allowed; use RSA or ECDSA with SHA-256 or stronger",
            _path(children[1]),
        )
    return children[0], c14n_method, algorithm, references[0]


def _reference_parts(reference: etree._Element) -> tuple[etree._Element | None, etree._Element, etree._Element]:
    """Transforms (optional), DigestMethod and DigestValue: exactly these, in this order."""
    children = _elements(reference)
    tags = [child.tag for child in children]
    if tags == [_ds("Transforms"), _ds("DigestMethod"), _ds("DigestValue")]:
        return children[0], children[1], children[2]
    if tags == [_ds("DigestMethod"), _ds("DigestValue")]:
        return None, children[0], children[1]
    raise Rejected.of(
        ErrorCode.SIGNATURE_PROFILE,
        "the Reference must hold an optional Transforms, a DigestMethod and a DigestValue, nothing else",
        _path(reference),
    )


def _reference_transforms(
    reference: etree._Element, transforms_element: etree._Element | None
) -> tuple[Canonicalization, list[str] | None]:
    uri = reference.get("URI")
    if uri != "":
        raise Rejected.of(
            ErrorCode.SIGNATURE_PROFILE,
            f'the Reference must cover the whole envelope (URI=""), not {uri!r}',
            _path(reference),
        )
    transforms = [] if transforms_element is None else _elements(transforms_element)
    if any(t.tag != _ds("Transform") for t in transforms):
        raise Rejected.of(
            ErrorCode.SIGNATURE_PROFILE, "Transforms may hold only ds:Transform elements", _path(reference)
        )
    uris = [t.get("Algorithm") for t in transforms]
    if not uris or uris[0] != ENVELOPED_SIGNATURE or len(uris) > 2:
        raise Rejected.of(
            ErrorCode.SIGNATURE_PROFILE,
            "the Reference's transforms must be enveloped-signature, optionally followed by one "
            f"canonicalisation; found {uris}",
            _path(reference),
        )
    if len(uris) == 1:
        return Canonicalization.INCLUSIVE, None  # the XML-DSig default for a node-set
    method = Canonicalization.from_uri(uris[1])
    if method is None:
        raise Rejected.of(
            ErrorCode.SIGNATURE_ALGORITHM,
            f"transform {uris[1]!r} is not allowed",
            _path(transforms[-1]),
        )
    return method, _prefix_list(method, transforms[-1])


def _reference_digest(method: etree._Element, value: etree._Element) -> tuple[type[hashes.HashAlgorithm], bytes]:
    algorithm = DIGEST_ALGORITHMS.get(method.get("Algorithm") or "")
    if algorithm is None:
        raise Rejected.of(
            ErrorCode.SIGNATURE_ALGORITHM,
            f"digest method {method.get('Algorithm')!r} is not allowed; use SHA-256 or stronger",
            _path(method),
        )
    return algorithm, _base64(value, "DigestValue")


def _prefix_list(method: Canonicalization, element: etree._Element) -> list[str] | None:
    if not method.exclusive:
        return None
    inclusive = element.find(f"{{{EXC_C14N_NS}}}InclusiveNamespaces")
    if inclusive is None:
        return None
    # "#default" names the default namespace (Exclusive C14N 1.0, section 3).
    prefixes = (inclusive.get("PrefixList") or "").split()
    if len(prefixes) > MAX_INCLUSIVE_PREFIXES:  # each one is looked up on every element canonicalised
        raise Rejected.of(
            ErrorCode.SIGNATURE_PROFILE,
            f"an InclusiveNamespaces PrefixList names {len(prefixes)} prefixes; at most {MAX_INCLUSIVE_PREFIXES} are allowed",
            _path(inclusive),
        )
    return prefixes


def _embedded_certificates(key_info: etree._Element | None, max_bytes: int) -> list[tuple[bytes, x509.Certificate]]:
    if key_info is None:
        return []
    certificates = []
    for element in key_info.iterfind(f"{_ds('X509Data')}/{_ds('X509Certificate')}"):
        if len(element.text or "") > 2 * max_bytes:  # refuse a huge one before decoding it
            raise _too_large(element, max_bytes)
        der = _base64(element, "X509Certificate")
        if len(der) > max_bytes:
            raise _too_large(element, max_bytes)
        try:
            certificates.append((der, certificate_from_der(der)))
        except CertificateUnreadable as exc:
            raise Rejected.of(
                ErrorCode.CERTIFICATE_INVALID, f"X509Certificate cannot be read: {exc}", _path(element)
            ) from None
    return certificates


def _too_large(element: etree._Element, max_bytes: int) -> Rejected:
    return Rejected.of(
        ErrorCode.CERTIFICATE_TOO_LARGE, f"an X509Certificate is larger than {max_bytes:,} bytes", _path(element)
    )


def _check_key(certificate: x509.Certificate, algorithm: SignatureAlgorithm) -> None:
    try:
        public_key = public_key_of(certificate)
    except (ValueError, UnsupportedAlgorithm) as exc:  # certificates are decoded lazily
        raise Rejected.of(ErrorCode.CERTIFICATE_INVALID, f"the certificate's public key cannot be read: {exc}") from None
    weakness = key_weakness(public_key)
    if weakness:
        raise Rejected.of(ErrorCode.KEY_TOO_WEAK, weakness)
    if key_type(public_key) != algorithm.key_type:
        raise Rejected.of(
            ErrorCode.SIGNATURE_INVALID,
            f"signature method {algorithm.uri} does not fit the certificate's {key_type(public_key)} key",
        )


def _usable(certificate: x509.Certificate, algorithm: SignatureAlgorithm) -> bool:
    try:
        _check_key(certificate, algorithm)
    except Rejected:
        return False
    return True


def _signature_matches(
    certificate: x509.Certificate, algorithm: SignatureAlgorithm, data: bytes, value: bytes
) -> bool:
    public_key = public_key_of(certificate)  # readable: _check_key or _usable came first
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(value, data, padding.PKCS1v15(), algorithm.hash())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            size = (public_key.curve.key_size + 7) // 8
            if len(value) != 2 * size:
                return False
            r = int.from_bytes(value[:size], "big")
            s = int.from_bytes(value[size:], "big")
            public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(algorithm.hash()))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _base64(element: etree._Element, label: str) -> bytes:
    try:
        return base64.b64decode((element.text or "").translate(_XML_WHITESPACE), validate=True)
    except (binascii.Error, ValueError):
        raise Rejected.of(
            ErrorCode.SIGNATURE_PROFILE, f"{label} is not valid base64", _path(element)
        ) from None


def _elements(parent: etree._Element) -> list[etree._Element]:
    """The child elements, without comments and processing instructions."""
    return [child for child in parent if isinstance(child.tag, str)]


def _path(element: etree._Element) -> str:
    return element.getroottree().getpath(element)
