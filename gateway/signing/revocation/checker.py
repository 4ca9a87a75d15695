"""The revocation check at intake: CRL in memory first, OCSP only on a miss, the CA's policy last.

Every certificate of the path but the anchor is checked against its issuer; the
path's verdict is the worst of them (revoked, then unknown, then good). The
policy is the one configured for the path's anchor (a configured trust anchor or
a partner's CA), by its SHA-256 fingerprint, else the default. A timer thread
fetches the CRLs; intake never waits for one.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence

import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from gateway.config import RevocationSettings
from gateway.signing.revocation.crls import CrlStore
from gateway.signing.revocation.ocsp import OcspClient
from gateway.signing.revocation.policy import UNCHECKED, Policy, Source, Status, Verdict
from gateway.threads import start_thread

log = structlog.get_logger(__name__)
_RANK = {Status.GOOD: 0, Status.UNCHECKED: 0, Status.UNKNOWN: 1, Status.REVOKED: 2}


class RevocationChecker:
    def __init__(self, settings: RevocationSettings, skew: dt.timedelta = dt.timedelta(minutes=5)) -> None:
        self.settings = settings
        self.crls = CrlStore(settings.crls, settings.cache_dir)
        self.ocsp = OcspClient(
            settings.ocsp, settings.ocsp_timeout_s, settings.ocsp_cache_s, settings.ocsp_failure_cache_s, skew
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()
        self._fingerprints: dict[x509.Certificate, str] = {}

    def policy_for(self, anchor: x509.Certificate) -> Policy:
        fingerprint = self._fingerprints.get(anchor)
        if fingerprint is None:  # anchors and partner CAs: a few certificates, each computed once
            if len(self._fingerprints) >= 1024:  # registry reloads bring new objects: forget the old ones
                self._fingerprints.clear()
            fingerprint = self._fingerprints[anchor] = anchor.fingerprint(hashes.SHA256()).hex()
        return Policy(self.settings.policy_for(fingerprint))

    def check(self, path: Sequence[x509.Certificate], at: dt.datetime | None = None) -> tuple[Verdict, Policy]:
        """The verdict on a validated path (leaf first, anchor last) and the policy that judges it."""
        policy = self.policy_for(path[-1])
        if policy is Policy.OFF or len(path) < 2:
            return UNCHECKED, policy
        if self._thread is None:
            self.start()
        moment = at or dt.datetime.now(dt.UTC)
        verdicts = [self._one(certificate, issuer, moment) for certificate, issuer in zip(path, path[1:], strict=False)]
        return max(verdicts, key=lambda verdict: _RANK[verdict.status]), policy

    def _one(self, certificate: x509.Certificate, issuer: x509.Certificate, at: dt.datetime) -> Verdict:
        held = self.crls.lookup(certificate, issuer, at)
        if held is not None:
            if certificate.serial_number in held.revoked:
                subject = certificate.subject.rfc4514_string()
                entry = held.crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
                when = entry.revocation_date_utc.isoformat() if entry else "an unknown time"
                return Verdict(Status.REVOKED, Source.CRL, f"certificate {subject} was revoked at {when} (CRL)")
            return Verdict(Status.GOOD, Source.CRL)
        answer = self.ocsp.status(certificate, issuer)
        if answer is not None:
            return answer
        subject = certificate.subject.rfc4514_string()
        return Verdict(
            Status.UNKNOWN, Source.NONE, f"no current CRL of {issuer.subject.rfc4514_string()} and no OCSP responder for {subject}"
        )

    def start(self) -> None:
        """Load the disk cache, then fetch on the timer (at once, then every refresh_s, sooner when a new point is seen).

        Called by the first check, so a process that never takes a message (a CLI command) fetches nothing.
        """
        with self._starting:
            if self._thread is not None:
                return
            self.crls.load_cache()
            self.crls.refresh(files_only=True)  # local files at once, so the first message is checked with them
            self._thread = start_thread(self._run, "crl-refresh")

    def stop(self) -> None:
        self._stop.set()
        self.crls.wanted.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.crls.refresh()
            except Exception:  # the timer must outlive one bad fetch
                log.exception("CRL refresh failed")
            self.crls.wanted.wait(self.settings.refresh_s)
