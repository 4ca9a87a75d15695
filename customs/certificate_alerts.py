"""Certificate expiry alerts: the operators hear of a certificate before it expires, and when it has.

`check_certificates` is a timer task. It looks at every certificate in use (each
party's registered signing certificates, the partners' CAs, and the gateway's own,
the next one too during a key rotation) and raises a CERTIFICATE_EXPIRY alert per
certificate and threshold of `[alerts] certificate_expiry_days` (days before its
notAfter; 0: it has expired). Only the tightest threshold crossed is raised: a
certificate first seen 5 days before it expires gets the 7-day alert, not the 60-
and 30-day ones as well. The alert id names the party, the certificate's fingerprint
and the threshold, so each is raised once whatever the number of runs or processes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import structlog

from customs.alerts import raise_alert
from customs.context import Context
from gateway.signing.expiry import CertificateInUse

log = structlog.get_logger(__name__)

CERTIFICATE_EXPIRY = "CERTIFICATE_EXPIRY"
_KINDS = {"signing": "Chứng thư ký số", "ca": "Chứng thư CA"}


def check_certificates(context: Context) -> int:
    """Timer task: raise the CERTIFICATE_EXPIRY alerts now due; returns how many were raised."""
    thresholds = context.rules.business.alerts.certificate_expiry_days
    raised = 0
    for certificate in context.certificates():
        threshold = tightest_crossed(certificate, context.now, thresholds)
        if threshold is not None and _raise(context, certificate, threshold):
            raised += 1
    return raised


def tightest_crossed(certificate: CertificateInUse, now: dt.datetime, thresholds: Sequence[int]) -> int | None:
    """The smallest threshold (days) the time left has reached (0: it has expired), or None if none has."""
    left = certificate.not_after - now
    crossed = [days for days in thresholds if left <= dt.timedelta(days=days)]
    return min(crossed, default=None)


def severity_for(threshold: int) -> str:
    return "HIGH" if threshold <= 7 else "MEDIUM" if threshold <= 30 else "LOW"


def _raise(context: Context, certificate: CertificateInUse, threshold: int) -> bool:
    days_left = certificate.days_left(context.now)
    not_after = certificate.not_after.isoformat(timespec="seconds")
    what = (
        f"{_KINDS.get(certificate.kind, certificate.kind)} của {certificate.party} ({certificate.subject}, "
        f"SHA-256 {certificate.fingerprint})"
    )
    if threshold == 0:
        code, text = "CERTIFICATE_EXPIRED", f"{what} đã hết hạn lúc {not_after}."
    else:
        code = "CERTIFICATE_EXPIRING"
        text = f"{what} hết hạn lúc {not_after}, còn {days_left} ngày (ngưỡng cảnh báo {threshold} ngày)."
    alert_id = raise_alert(
        context,
        CERTIFICATE_EXPIRY,
        severity_for(threshold),
        [(code, text)],
        party=certificate.party,
        metrics={"DAYS_LEFT": float(days_left), "THRESHOLD_DAYS": float(threshold)},
        scope=(certificate.fingerprint, str(threshold)),
    )
    if alert_id is not None:
        log.warning(
            "certificate expiry alert",
            alert_id=alert_id,
            party=certificate.party,
            kind=certificate.kind,
            subject=certificate.subject,
            fingerprint=certificate.fingerprint,
            not_after=not_after,
            days_left=days_left,
            threshold_days=threshold,
        )
    return alert_id is not None
