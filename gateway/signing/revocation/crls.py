"""CRLs held in memory (by issuer), cached on disk, fetched again on a timer.

A CRL counts for a certificate only when its issuer issued that certificate, its
signature verifies with that issuer's key, and it is current (its nextUpdate has not
passed). Checking is a dictionary lookup: no network and no file on the hot path.
The disk cache (one DER file per source, and a file naming the source) lets a restarted
gateway check at once, before the first fetch, with the configured sources' CRLs and
the still-current ones of the distribution points seen before; each file keeps its
CRL's nextUpdate inside it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from gateway.signing.revocation.fetch import FetchError, read_source

log = structlog.get_logger(__name__)
FETCH_TIMEOUT_S = 10.0
_SOURCE_SUFFIX = ".source"  # beside each cached CRL: its source, so a distribution point's CRL is found at start


@dataclass(frozen=True, slots=True)
class HeldCrl:
    crl: x509.CertificateRevocationList
    source: str
    revoked: frozenset[int]  # serial numbers, for a lookup in constant time
    issuer: x509.Name  # read once: `crl.issuer` builds a new Name at each access (10 µs, then 7 µs to compare)
    # The signature checked once per issuer certificate (CAs on validated paths: a handful), not per
    # message: verifying it cost more than the rest of the revocation check.
    _issuers: dict[x509.Certificate, bool] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, crl: x509.CertificateRevocationList, source: str) -> HeldCrl:
        return cls(crl, source, frozenset(entry.serial_number for entry in crl), crl.issuer)

    def current(self, at: dt.datetime) -> bool:
        next_update = self.crl.next_update_utc
        return next_update is None or at <= next_update

    def issued_by(self, issuer: x509.Certificate) -> bool:
        if self.issuer != issuer.subject:
            return False
        known = self._issuers.get(issuer)
        if known is None:
            known = self._issuers[issuer] = self._signed_by(issuer)
        return known

    def _signed_by(self, issuer: x509.Certificate) -> bool:
        try:
            return self.crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
        except (InvalidSignature, TypeError, ValueError):
            return False


def parse_crl(data: bytes) -> x509.CertificateRevocationList:
    """A CRL in PEM or DER; ValueError when it is neither."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


class CrlStore:
    """The CRLs from the configured sources and the distribution points of certificates seen."""

    def __init__(self, sources: tuple[str, ...], cache_dir: Path) -> None:
        self._sources = list(sources)
        self._cache_dir = cache_dir
        self._held: dict[str, HeldCrl] = {}  # by source
        self._by_issuer: dict[x509.Name, list[HeldCrl]] = {}
        self._lock = threading.Lock()
        self.wanted = threading.Event()  # set when a distribution point not yet fetched was seen

    @property
    def sources(self) -> tuple[str, ...]:
        """The configured sources and the distribution points seen so far."""
        return tuple(self._sources)

    def load_cache(self) -> None:
        """The CRLs cached on disk by an earlier run (before the first fetch).

        Those of the configured sources, and those of the distribution points an earlier run
        saw that are still current: each is a source again (the timer fetches it), so a
        restart while a CA's CRL server is down keeps checking against what was fetched.
        """
        for source in list(self._sources):
            try:
                self._hold(source, parse_crl(self._cache_file(source).read_bytes()))
            except (OSError, ValueError):
                continue
        now = dt.datetime.now(dt.UTC)
        for named in sorted(self._cache_dir.glob(f"*{_SOURCE_SUFFIX}")):
            try:
                source = named.read_text(encoding="utf-8").strip()
                if source in self._sources or not source.startswith(("http://", "https://")):
                    continue
                held = HeldCrl.of(parse_crl(self._cache_file(source).read_bytes()), source)
            except (OSError, ValueError, UnicodeDecodeError):
                continue
            if held.current(now):
                with self._lock:
                    self._sources.append(source)
                self._hold(source, held.crl)

    def lookup(self, certificate: x509.Certificate, issuer: x509.Certificate, at: dt.datetime) -> HeldCrl | None:
        """The current CRL of `issuer` that covers `certificate`, if one is held."""
        for held in self._by_issuer.get(issuer.subject, ()):
            if held.current(at) and held.issued_by(issuer):
                return held
        self._want_distribution_points(certificate)
        return None

    def refresh(self, files_only: bool = False) -> None:
        """Fetch every source again (the timer's job); a source that fails keeps its last CRL.

        `files_only`: read the local files alone (at start, before the first check: no network).
        """
        if not files_only:
            self.wanted.clear()
        for source in [s for s in self._sources if not (files_only and "://" in s)]:
            try:
                data = read_source(source, FETCH_TIMEOUT_S)
                crl = parse_crl(data)
            except (FetchError, ValueError) as exc:
                if "://" in source or Path(source).exists():  # a file not there is a CA that publishes none (yet)
                    log.warning("CRL not fetched; the last one held stays", source=source, error=str(exc))
                continue
            held = self._held.get(source)
            if held is not None and held.crl.last_update_utc > crl.last_update_utc:
                log.warning("CRL older than the one held; ignored", source=source)
                continue
            self._hold(source, crl)
            self._write_cache(source, crl)

    def next_updates(self) -> dict[str, dt.datetime | None]:
        return {source: held.crl.next_update_utc for source, held in self._held.items()}

    def _hold(self, source: str, crl: x509.CertificateRevocationList) -> None:
        with self._lock:
            self._held[source] = HeldCrl.of(crl, source)
            by_issuer: dict[x509.Name, list[HeldCrl]] = {}
            for held in self._held.values():
                by_issuer.setdefault(held.crl.issuer, []).append(held)
            self._by_issuer = by_issuer  # replaced whole: readers never see it half-built

    def _want_distribution_points(self, certificate: x509.Certificate) -> None:
        try:
            points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        except (x509.ExtensionNotFound, ValueError):
            return
        for point in points:
            for name in point.full_name or ():
                url = name.value if isinstance(name, x509.UniformResourceIdentifier) else None
                if url and url.startswith(("http://", "https://")) and url not in self._sources:
                    with self._lock:
                        if url not in self._sources:
                            self._sources.append(url)
                    self.wanted.set()

    def _cache_file(self, source: str) -> Path:
        return self._cache_dir / f"{hashlib.sha256(source.encode()).hexdigest()[:32]}.crl"

    def _write_cache(self, source: str, crl: x509.CertificateRevocationList) -> None:
        """`<hash>.crl` (DER) and, beside it, `<hash>.source` naming where it came from (read back at start)."""
        path = self._cache_file(source)
        try:
            self._cache_dir.mkdir(parents=True, exist_ok=True)
            _replace(path.with_suffix(_SOURCE_SUFFIX), source.encode("utf-8"))
            _replace(path, crl.public_bytes(serialization.Encoding.DER))
        except OSError as exc:
            log.warning("CRL not cached on disk", source=source, error=str(exc))


def _replace(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole (a reader never sees half a file)."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
