"""The algorithm policy applied to a whole certificate path, not only to the signing key.

A signature is only as strong as the weakest link that vouches for its key: an RSA-1024
intermediate, or a certificate signed with SHA-1, lets whoever breaks that link issue
certificates for any party. So every issuer's key must meet the same key policy as a
signing key, and every signature on the path must use an allowed hash. The signing key
itself is judged by the verifier (KEY_TOO_WEAK); an anchor's self-signature vouches for
nothing and is not judged.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from gateway.errors import ErrorCode, Problem
from gateway.signing.algorithms import DIGEST_ALGORITHMS
from gateway.signing.keys import key_weakness

_ALLOWED_HASHES = frozenset(algorithm.name for algorithm in DIGEST_ALGORITHMS.values())


def path_weakness(path: Sequence[x509.Certificate]) -> Problem | None:
    """Why the path (leaf first, anchor last) falls short of the algorithm policy, or None."""
    for issued, issuer in zip(path, path[1:], strict=False):
        weakness = key_weakness(issuer.public_key())
        if weakness:
            return _weak(issuer, f"its {weakness}")
        hash_name = _signature_hash(issued)
        if hash_name not in _ALLOWED_HASHES:
            return _weak(issued, f"it is signed with {hash_name}; use SHA-256 or stronger")
    return None


def _signature_hash(certificate: x509.Certificate) -> str:
    try:
        algorithm = certificate.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return f"an unsupported algorithm ({certificate.signature_algorithm_oid.dotted_string})"
    return algorithm.name if algorithm is not None else "a signature scheme without a separate hash"


def _weak(certificate: x509.Certificate, why: str) -> Problem:
    return Problem(
        ErrorCode.CERTIFICATE_CHAIN_WEAK,
        f"certificate {certificate.subject.rfc4514_string()} on the path to the trust anchor is too weak: {why}",
    )
