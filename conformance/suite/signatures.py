"""Signing a step's envelope as its `SignatureSpec` says: names of algorithms to URIs and hashes.

The default spec is the gateway's own profile (exclusive c14n, SHA-256, the
key's signature method, the certificate chain in KeyInfo), which is what a
well-behaved partner sends. Other specs describe the variants the profile
accepts and the downgrades and deviations it must refuse.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from lxml import etree

from conformance import attacks
from conformance.suite.model import SignatureSpec, Unavailable
from gateway.envelope import qname
from gateway.signing.algorithms import ENVELOPED_SIGNATURE, Canonicalization
from gateway.signing.keys import SigningIdentity, der_of
from gateway.signing.pki import PrivateKey

_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
DIGEST_METHODS = {
    "md5": _MORE + "md5",
    "sha1": "http://www.w3.org/2000/09/xmldsig#sha1",
    "sha224": _MORE + "sha224",
    "sha256": "http://www.w3.org/2001/04/xmlenc#sha256",
    "sha384": _MORE + "sha384",
    "sha512": "http://www.w3.org/2001/04/xmlenc#sha512",
}
SIGNATURE_METHODS = {
    ("rsa", "md5"): _MORE + "rsa-md5",
    ("rsa", "sha1"): "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    **{("rsa", name): f"{_MORE}rsa-{name}" for name in ("sha224", "sha256", "sha384", "sha512")},
    **{("ec", name): f"{_MORE}ecdsa-{name}" for name in ("sha1", "sha224", "sha256", "sha384", "sha512")},
}
CANONICALIZATIONS = {
    "exclusive": Canonicalization.EXCLUSIVE.uri,
    "exclusive-comments": Canonicalization.EXCLUSIVE_WITH_COMMENTS.uri,
    "inclusive": Canonicalization.INCLUSIVE.uri,
    "inclusive-comments": Canonicalization.INCLUSIVE_WITH_COMMENTS.uri,
    "c14n11": Canonicalization.INCLUSIVE_1_1.uri,
    "c14n11-comments": Canonicalization.INCLUSIVE_1_1_WITH_COMMENTS.uri,
}
TRANSFORMS = {
    "enveloped": ENVELOPED_SIGNATURE,
    **CANONICALIZATIONS,
    "xpath": attacks.XPATH_TRANSFORM,
    "xslt": "http://www.w3.org/TR/1999/REC-xslt-19991116",
    "base64": "http://www.w3.org/2000/09/xmldsig#base64",
}
MISMATCHED = "mismatched"  # the signature method of the other key type
HEADER_ID = "signed-header"


def check_signature_spec(spec: SignatureSpec) -> None:
    """Raise ValueError for a name nobody defined (a URI, which has a colon, is taken as written)."""
    method_names = {name for _, name in SIGNATURE_METHODS} | {MISMATCHED}
    for label, value, names in (
        ("method", spec.method, method_names),
        ("digest", spec.digest, DIGEST_METHODS),
        ("c14n", spec.c14n, CANONICALIZATIONS),
        *(("transform", transform, TRANSFORMS) for transform in spec.transforms),
    ):
        if ":" not in value and value not in names:
            raise ValueError(f"unknown {label} {value!r}; known: {sorted(names)} or a URI")
    if spec.reference not in ("whole", "header-by-id") and not spec.reference.startswith("#"):
        raise ValueError("reference is 'whole', 'header-by-id' or a '#...' URI")
    if spec.value_key not in ("signer", "fresh") or spec.key_info not in ("chain", "leaf", "none"):
        raise ValueError("value_key is signer|fresh and key_info chain|leaf|none")


def recipe(spec: SignatureSpec, key_type: str) -> attacks.SignatureRecipe:
    """The concrete recipe for a signing key of `key_type` ("rsa" or "ec")."""
    if spec.method == MISMATCHED:
        method, value_hash = SIGNATURE_METHODS["ec" if key_type == "rsa" else "rsa", "sha256"], hashes.SHA256()
    elif ":" in spec.method:
        method, value_hash = spec.method, hashes.SHA256()  # a label only: refused before any value is checked
    elif (key_type, spec.method) in SIGNATURE_METHODS:
        method, value_hash = SIGNATURE_METHODS[key_type, spec.method], HASHES[spec.method]()
    else:
        raise Unavailable(f"there is no {key_type.upper()} signature method with {spec.method}")
    digest_method = DIGEST_METHODS.get(spec.digest, spec.digest)
    return attacks.SignatureRecipe(
        signature_method=method,
        signature_hash=value_hash,
        digest_method=digest_method,
        digest_hash=HASHES.get(spec.digest, hashes.SHA256)(),
        canonicalization=CANONICALIZATIONS.get(spec.c14n, spec.c14n),
        transforms=tuple(TRANSFORMS.get(transform, transform) for transform in spec.transforms),
        reference_uri={"whole": "", "header-by-id": f"#{HEADER_ID}"}.get(spec.reference, spec.reference),
        prefix_list=spec.prefix_list,
    )


def sign(root: etree._Element, spec: SignatureSpec, identity: SigningIdentity, fresh_key: PrivateKey | None) -> None:
    """Sign `root` in place; `fresh_key` is the other key a spec with value_key "fresh" signs with."""
    chain = [der_of(certificate) for certificate in (identity.certificate, *identity.intermediates)]
    certificates = {"chain": chain, "leaf": chain[:1], "none": None}[spec.key_info]
    key = identity.private_key
    if spec.value_key == "fresh":
        if fresh_key is None:
            raise ValueError("this signature is made with another key, and none was given")
        key = fresh_key
    referenced = None
    if spec.reference == "header-by-id":
        referenced = root.find(qname("Header"))
        referenced.set("Id", HEADER_ID)
    attacks.append_signature(root, key, certificates, recipe(spec, identity.key_type), referenced)
