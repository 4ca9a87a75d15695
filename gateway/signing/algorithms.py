"""Algorithm identifiers of XML-DSig and the gateway's allow-list.

Only what is on these tables is accepted: SHA-1, MD5, DSA and every transform
other than enveloped-signature and canonicalisation are refused by omission.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

DSIG = "http://www.w3.org/2000/09/xmldsig#"
ENVELOPED_SIGNATURE = DSIG + "enveloped-signature"
EXC_C14N_NS = "http://www.w3.org/2001/10/xml-exc-c14n#"


class Canonicalization(enum.Enum):
    """Canonicalisation methods, with the lxml arguments that implement them."""

    def __init__(self, uri: str, exclusive: bool, with_comments: bool) -> None:
        self.uri = uri
        self.exclusive = exclusive
        self.with_comments = with_comments

    EXCLUSIVE = ("http://www.w3.org/2001/10/xml-exc-c14n#", True, False)
    EXCLUSIVE_WITH_COMMENTS = ("http://www.w3.org/2001/10/xml-exc-c14n#WithComments", True, True)
    INCLUSIVE = ("http://www.w3.org/TR/2001/REC-xml-c14n-20010315", False, False)
    INCLUSIVE_WITH_COMMENTS = (
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
        False,
        True,
    )
    # C14N 1.1 differs from 1.0 only in how xml:id and xml:base are inherited into a
    # document subset; the envelope profile signs whole documents, where the two agree.
    INCLUSIVE_1_1 = ("http://www.w3.org/2006/12/xml-c14n11", False, False)
    INCLUSIVE_1_1_WITH_COMMENTS = ("http://www.w3.org/2006/12/xml-c14n11#WithComments", False, True)

    @classmethod
    def from_uri(cls, uri: str | None) -> Canonicalization | None:
        return next((member for member in cls if member.uri == uri), None)


@dataclass(frozen=True, slots=True)
class SignatureAlgorithm:
    uri: str
    key_type: str  # "rsa" or "ec"
    hash: type[hashes.HashAlgorithm]


SIGNATURE_ALGORITHMS: dict[str, SignatureAlgorithm] = {
    alg.uri: alg
    for alg in (
        SignatureAlgorithm("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "rsa", hashes.SHA256),
        SignatureAlgorithm("http://www.w3.org/2001/04/xmldsig-more#rsa-sha384", "rsa", hashes.SHA384),
        SignatureAlgorithm("http://www.w3.org/2001/04/xmldsig-more#rsa-sha512", "rsa", hashes.SHA512),
        SignatureAlgorithm("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256", "ec", hashes.SHA256),
        SignatureAlgorithm("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384", "ec", hashes.SHA384),
        SignatureAlgorithm("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512", "ec", hashes.SHA512),
    )
}

DIGEST_ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "http://www.w3.org/2001/04/xmlenc#sha256": hashes.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashes.SHA384,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashes.SHA512,
}

SHA256_DIGEST = "http://www.w3.org/2001/04/xmlenc#sha256"

MIN_RSA_BITS = 2048
ALLOWED_CURVES: tuple[type[ec.EllipticCurve], ...] = (ec.SECP256R1, ec.SECP384R1)


def signature_algorithm_for(key_type: str, hash_name: str = "sha256") -> SignatureAlgorithm:
    """The signature method a signer uses for a key type ("rsa" or "ec") and hash."""
    for algorithm in SIGNATURE_ALGORITHMS.values():
        if algorithm.key_type == key_type and algorithm.hash.name == hash_name:
            return algorithm
    raise ValueError(f"no signature algorithm for {key_type}/{hash_name}")
