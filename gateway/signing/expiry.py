"""The certificates in use and when each expires: every party's registered certificates and partner CAs,
and the gateway's own signing certificates (the next one too during a key rotation)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from gateway.parties import Party


@dataclass(frozen=True, slots=True)
class CertificateInUse:
    party: str
    kind: str  # "signing" (a party's registered certificate, or the gateway's own) or "ca" (a partner's CA)
    subject: str
    fingerprint: str  # SHA-256 of the DER, hex
    not_after: dt.datetime

    @classmethod
    def of(cls, party: str, kind: str, certificate: x509.Certificate) -> CertificateInUse:
        return cls(
            party,
            kind,
            certificate.subject.rfc4514_string(),
            certificate.fingerprint(hashes.SHA256()).hex(),
            certificate.not_valid_after_utc,
        )

    def days_left(self, now: dt.datetime) -> int:
        """Whole days until it expires (negative once it has)."""
        return (self.not_after - now) // dt.timedelta(days=1)


def certificates_in_use(
    parties: Iterable[Party], own_party: str, own: Iterable[x509.Certificate]
) -> list[CertificateInUse]:
    """Every party's certificates and CAs and the gateway's own certificates (`own`: the current one and,
    during a key rotation, the next one), soonest expiry first, each once."""
    found: dict[tuple[str, str], CertificateInUse] = {}
    for entry in (
        *(CertificateInUse.of(own_party, "signing", certificate) for certificate in own),
        *(CertificateInUse.of(p.identity, "signing", c) for p in parties for c in p.certificates.values()),
        *(CertificateInUse.of(p.identity, "ca", c) for p in parties for c in p.anchors),
    ):
        found.setdefault((entry.party, entry.fingerprint), entry)
    return sorted(found.values(), key=lambda entry: (entry.not_after, entry.party))


def earliest_expiry(found: Iterable[CertificateInUse]) -> dict[str, dt.datetime]:
    """Each party's soonest notAfter."""
    earliest: dict[str, dt.datetime] = {}
    for entry in found:
        earliest[entry.party] = min(earliest.get(entry.party, entry.not_after), entry.not_after)
    return earliest
