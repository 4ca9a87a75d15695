"""Asking an OCSP responder about one certificate, with a short timeout and a cache of answers.

The responder is the one the certificate names (authorityInfoAccess) or the configured
one. An answer counts only when it is signed by the issuer, or by a responder whose
certificate the issuer signed for OCSP signing, names this certificate, and is current.
A failed question (down, slow, unreadable answer) is remembered for a short while, so a
responder that is down costs one timeout per certificate per while, not one per message.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from gateway.signing.revocation.fetch import FetchError, read_source
from gateway.signing.revocation.policy import Source, Status, Verdict

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Cached:
    verdict: Verdict
    until: float  # time.monotonic()


class OcspClient:
    def __init__(
        self, default_url: str | None, timeout_s: float, cache_s: float, failure_cache_s: float, skew: dt.timedelta
    ) -> None:
        self._default_url = default_url
        self._timeout_s = timeout_s
        self._cache_s = cache_s
        self._failure_cache_s = failure_cache_s
        self._skew = skew
        self._cache: dict[tuple[bytes, int], _Cached] = {}
        self._lock = threading.Lock()

    def status(self, certificate: x509.Certificate, issuer: x509.Certificate) -> Verdict | None:
        """The responder's answer (cached), an UNKNOWN verdict when it gave none, None when there is no responder."""
        url = responder_url(certificate) or self._default_url
        if url is None:
            return None
        key = (issuer.fingerprint(hashes.SHA256()), certificate.serial_number)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached.until > now:
            return cached.verdict
        verdict, keep_s = self._ask(url, certificate, issuer)
        with self._lock:
            if len(self._cache) > 100_000:  # bounded: an old answer is cheap to ask again
                self._cache.clear()
            self._cache[key] = _Cached(verdict, now + keep_s)
        return verdict

    def _ask(self, url: str, certificate: x509.Certificate, issuer: x509.Certificate) -> tuple[Verdict, float]:
        request = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA1()).build()  # noqa: S303 (CertID's usual hash)
        try:
            data = read_source(
                url, self._timeout_s, request.public_bytes(serialization.Encoding.DER), "application/ocsp-request"
            )
            return self._verdict(ocsp.load_der_ocsp_response(data), certificate, issuer)
        except (FetchError, ValueError) as exc:
            log.warning("OCSP responder gave no answer", url=url, error=str(exc))
            detail = f"the OCSP responder {url} gave no answer: {exc}"
            return Verdict(Status.UNKNOWN, Source.OCSP, detail), self._failure_cache_s

    def _verdict(
        self, response: ocsp.OCSPResponse, certificate: x509.Certificate, issuer: x509.Certificate
    ) -> tuple[Verdict, float]:
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise ValueError(f"response status {response.response_status.name}")
        if response.serial_number != certificate.serial_number:
            raise ValueError("the answer is about another certificate")
        _check_signer(response, issuer)
        now = dt.datetime.now(dt.UTC)
        if response.this_update_utc > now + self._skew:
            raise ValueError("the answer's thisUpdate is in the future")
        next_update = response.next_update_utc
        if next_update is not None and next_update < now - self._skew:
            raise ValueError("the answer is stale (its nextUpdate has passed)")
        keep_s = self._cache_s if next_update is None else min(self._cache_s, (next_update - now).total_seconds())
        subject = certificate.subject.rfc4514_string()
        match response.certificate_status:
            case ocsp.OCSPCertStatus.GOOD:
                return Verdict(Status.GOOD, Source.OCSP), keep_s
            case ocsp.OCSPCertStatus.REVOKED:
                when = response.revocation_time_utc
                detail = f"certificate {subject} was revoked at {when.isoformat() if when else 'an unknown time'} (OCSP)"
                return Verdict(Status.REVOKED, Source.OCSP, detail), keep_s
            case _:
                return Verdict(Status.UNKNOWN, Source.OCSP, f"the OCSP responder does not know {subject}"), keep_s


def responder_url(certificate: x509.Certificate) -> str | None:
    """The OCSP responder named in the certificate's authorityInfoAccess, if any."""
    try:
        access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    for description in access:
        location = description.access_location
        if description.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            location, x509.UniformResourceIdentifier
        ):
            return str(location.value)
    return None


def _check_signer(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> None:
    """The answer is signed by the issuer, or by a responder the issuer authorised; else ValueError."""
    signer = issuer
    if not _names(response, issuer):
        delegated = [c for c in response.certificates if _names(response, c)]
        if not delegated:
            raise ValueError("the answer is signed by neither the issuer nor a responder it names")
        signer = delegated[0]
        try:
            signer.verify_directly_issued_by(issuer)
            usage = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (InvalidSignature, ValueError, TypeError, x509.ExtensionNotFound):
            raise ValueError("the responder's certificate is not the issuer's") from None
        if ExtendedKeyUsageOID.OCSP_SIGNING not in usage:
            raise ValueError("the responder's certificate is not for OCSP signing")
    _verify(signer, response.signature, response.tbs_response_bytes, response.signature_hash_algorithm)


def _names(response: ocsp.OCSPResponse, certificate: x509.Certificate) -> bool:
    if response.responder_name is not None:
        return response.responder_name == certificate.subject
    key_hash = x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest  # type: ignore[arg-type]
    return response.responder_key_hash == key_hash


def _verify(signer: x509.Certificate, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None) -> None:
    key = signer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            raise ValueError("the responder's key or signature algorithm is not supported")
    except InvalidSignature:
        raise ValueError("the answer's signature does not verify") from None
