"""Trust anchors and certificate path validation.

A signing certificate is trusted when a path leads from it, through intermediates
carried in KeyInfo, to one of the configured anchors, with every issuer a CA and
every signature on the path valid, every issuer's key and every signature
algorithm on the path within the algorithm policy (chain_policy.py), and every
certificate on it valid at the time of checking. Path building is cached per certificate set, in a cache bounded in
bytes (requests carry the certificates); validity times are checked on every call.

Besides the configured anchors, a check may name anchors of its own: a partner
single window's CA is trusted for that partner's certificates only, so the
caller (who knows which party signed) passes it for that party alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from gateway.errors import ErrorCode, Problem
from gateway.signing.bounded_cache import BoundedCache
from gateway.signing.chain_policy import path_weakness
from gateway.signing.keys import certificate_from_der, der_of, load_certificates

MAX_PATH_LENGTH = 6
PATH_CACHE_BYTES = 4 * 1024 * 1024  # of certificates from KeyInfo; see bounded_cache.py


@dataclass(frozen=True, slots=True)
class CertificatePath:
    """A validated path from a leaf to an anchor (leaf first)."""

    certificates: tuple[x509.Certificate, ...]

    def validity_problem(self, at: dt.datetime, skew: dt.timedelta) -> Problem | None:
        for certificate in self.certificates:
            not_before = certificate.not_valid_before_utc
            not_after = certificate.not_valid_after_utc
            if at + skew < not_before or at - skew > not_after:
                return Problem(
                    ErrorCode.CERTIFICATE_EXPIRED,
                    f"certificate {certificate.subject.rfc4514_string()} is valid from "
                    f"{not_before.isoformat()} to {not_after.isoformat()}, not at {at.isoformat()}",
                )
        return None


class TrustStore:
    """The configured trust anchors and the rules for reaching them."""

    def __init__(self, anchors: Iterable[x509.Certificate], clock_skew: dt.timedelta = dt.timedelta(0)):
        self._anchors = {der_of(anchor): anchor for anchor in anchors}
        self.clock_skew = clock_skew
        self._paths: BoundedCache[CertificatePath | Problem] = BoundedCache(max_bytes=PATH_CACHE_BYTES)

    @classmethod
    def from_files(cls, paths: Iterable[Path], clock_skew: dt.timedelta = dt.timedelta(0)) -> TrustStore:
        return cls((cert for path in paths for cert in load_certificates(path)), clock_skew)

    @property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        return tuple(self._anchors.values())

    def check(
        self,
        leaf_der: bytes,
        intermediate_ders: Sequence[bytes] = (),
        at: dt.datetime | None = None,
        party_anchors: Sequence[x509.Certificate] = (),
    ) -> list[Problem]:
        """Every reason not to trust the DER certificate `leaf_der` now; empty means trusted.

        `party_anchors` are trusted for this check only, besides the configured anchors.
        """
        path_or_problem = self.path(leaf_der, intermediate_ders, party_anchors)
        if isinstance(path_or_problem, Problem):
            return [path_or_problem]
        moment = at or dt.datetime.now(dt.UTC)
        problem = path_or_problem.validity_problem(moment, self.clock_skew)
        return [problem] if problem else []

    def path(
        self, leaf_der: bytes, intermediate_ders: Sequence[bytes] = (), party_anchors: Sequence[x509.Certificate] = ()
    ) -> CertificatePath | Problem:
        """The path from the leaf to an anchor (cached), or why there is none; validity times are not checked."""
        key = (leaf_der, tuple(intermediate_ders), tuple(der_of(a) for a in party_anchors))
        size = len(leaf_der) + sum(map(len, intermediate_ders))
        return self._paths.get(key, size, lambda: self._build_path(*key))

    def _build_path(
        self, leaf_der: bytes, intermediate_ders: tuple[bytes, ...], party_anchor_ders: tuple[bytes, ...]
    ) -> CertificatePath | Problem:
        anchors = self._anchors | {der: certificate_from_der(der) for der in party_anchor_ders}
        try:
            path = _search(anchors, leaf_der, intermediate_ders)
        except ValueError as exc:  # CertificateUnreadable: a malformed name, extension or key
            return Problem(ErrorCode.CERTIFICATE_INVALID, f"a certificate on the path cannot be read: {exc}")
        if isinstance(path, Problem):
            return path
        return path_weakness(path.certificates) or path


def _search(
    anchors: dict[bytes, x509.Certificate], leaf_der: bytes, intermediate_ders: tuple[bytes, ...]
) -> CertificatePath | Problem:
    leaf = certificate_from_der(leaf_der)
    if leaf_der in anchors:
        return CertificatePath((leaf,))
    usage_problem = _signing_usage_problem(leaf)
    if usage_problem:
        return usage_problem
    pool = [certificate_from_der(der) for der in intermediate_ders]
    path = [leaf]
    current = leaf
    while len(path) <= MAX_PATH_LENGTH:
        # An issuer with pathLenConstraint n may have at most n intermediate CAs below it;
        # below the issuer sought now there are len(path) - 1 of them.
        below = len(path) - 1
        anchor = _issuer_among(current, anchors.values(), below)
        if anchor is not None:
            return CertificatePath((*path, anchor))
        issuer = _issuer_among(current, (c for c in pool if c not in path), below)
        if issuer is None:
            break
        path.append(issuer)
        current = issuer
    return Problem(
        ErrorCode.CERTIFICATE_UNTRUSTED,
        f"no path from {leaf.subject.rfc4514_string()} (issued by "
        f"{leaf.issuer.rfc4514_string()}) to a trust anchor",
    )


def _issuer_among(
    certificate: x509.Certificate, candidates: Iterable[x509.Certificate], intermediates_below: int
) -> x509.Certificate | None:
    """The candidate that issued `certificate` and may issue it under RFC 5280's CA rules."""
    for candidate in candidates:
        if candidate.subject != certificate.issuer or not _may_issue(candidate, intermediates_below):
            continue
        try:
            certificate.verify_directly_issued_by(candidate)
        except (InvalidSignature, ValueError, TypeError):
            continue
        return candidate
    return None


def _may_issue(certificate: x509.Certificate, intermediates_below: int) -> bool:
    """A CA (basicConstraints), allowed to sign certificates (keyUsage), within its path length."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    if not constraints.ca:
        return False
    if constraints.path_length is not None and intermediates_below > constraints.path_length:
        return False
    try:
        return certificate.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    except x509.ExtensionNotFound:
        return True


def _signing_usage_problem(certificate: x509.Certificate) -> Problem | None:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if usage.digital_signature or usage.content_commitment:
        return None
    return Problem(
        ErrorCode.CERTIFICATE_UNTRUSTED,
        f"certificate {certificate.subject.rfc4514_string()} is not for digital signatures (key usage)",
    )

