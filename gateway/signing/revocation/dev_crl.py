"""The development CA's CRL: `gateway keys init` issues it, `gateway keys revoke PARTY` adds to it.

The CRL is `<pki>/ca.crl.pem`, valid for a week (run `keys init` again to renew it: the
entries are kept). The default configuration reads it (`[revocation] crls`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from gateway.exceptions import ConfigurationError
from gateway.signing.keys import load_certificates
from gateway.signing.pki import CertificateAuthority, cert_path, load_ca
from gateway.signing.revocation.crls import parse_crl

CRL_FILE = "ca.crl.pem"
CRL_VALIDITY = dt.timedelta(days=7)


def crl_path(directory: Path) -> Path:
    return directory / CRL_FILE


def issue_crl(directory: Path, also_revoke: tuple[int, ...] = ()) -> x509.CertificateRevocationList:
    """Issue the CA's CRL again: the entries of the one there (if the same CA issued it) and `also_revoke`."""
    ca = load_ca(directory)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - dt.timedelta(minutes=1))
        .next_update(now + CRL_VALIDITY)
    )
    entries = {entry.serial_number: entry for entry in _current_entries(directory, ca)}
    for serial in also_revoke:
        entries.setdefault(
            serial, x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now - dt.timedelta(seconds=1)).build()
        )
    for entry in entries.values():
        builder = builder.add_revoked_certificate(entry)
    crl = builder.sign(ca.key, hashes.SHA256())
    crl_path(directory).write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return crl


def revoke_party(directory: Path, identity: str) -> x509.Certificate:
    """Revoke the party's development certificate (the first in its file) in the CA's CRL."""
    path = cert_path(directory, identity)
    if not path.exists():
        raise ConfigurationError(f"party {identity!r} has no certificate in {directory} (run `gateway keys init`)")
    certificate = load_certificates(path)[0]
    issue_crl(directory, (certificate.serial_number,))
    return certificate


def _current_entries(directory: Path, ca: CertificateAuthority) -> list[x509.RevokedCertificate]:
    try:
        crl = parse_crl(crl_path(directory).read_bytes())
    except (OSError, ValueError):
        return []
    if crl.issuer != ca.certificate.subject or not crl.is_signature_valid(ca.key.public_key()):  # type: ignore[arg-type]
        return []  # a CRL of a CA that `keys init --force` replaced
    return list(crl)
