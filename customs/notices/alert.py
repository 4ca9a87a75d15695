"""The RISK_ALERT payload (gateway/schemas/packs/RISK_ALERT/risk_alert.xsd): what was noticed, about whom, and the figures."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lxml import etree

from customs.notices import PayloadBuilder, symbol
from gateway.outbound.compose import timestamp

MAX_REASONS = 100  # the schema's bounds
MAX_METRICS = 50


@dataclass(frozen=True)
class RiskAlert:
    alert_id: str
    raised_at: dt.datetime
    severity: str  # LOW | MEDIUM | HIGH
    kind: str  # REJECTION_RATE, LATE_INSPECTION_RESULT, RISK_PROFILE, ...
    declaration: str | None  # the subject: a declaration, or else a party
    party: str | None
    reasons: Sequence[tuple[str, str]]  # (code, plain-language text)
    metrics: Mapping[str, float]


def risk_alert(alert: RiskAlert) -> etree._Element:
    builder = PayloadBuilder("RISK_ALERT")
    builder.add(None, "alertId", alert.alert_id)
    builder.add(None, "raisedAt", timestamp(alert.raised_at))
    builder.add(None, "severity", alert.severity)
    builder.add(None, "kind", alert.kind)
    subject = builder.add(None, "subject")
    if alert.declaration is not None:
        builder.add(subject, "declarationNumber", alert.declaration)
    else:
        builder.add(subject, "partyId", alert.party)
    reasons = builder.add(None, "reasons")
    for code, text in alert.reasons[:MAX_REASONS]:
        builder.reason(reasons, symbol(code), text)
    if alert.metrics:
        metrics = builder.add(None, "metrics")
        for name, value in list(alert.metrics.items())[:MAX_METRICS]:
            metric = builder.add(metrics, "metric")
            builder.add(metric, "name", symbol(name))
            builder.add(metric, "value", decimal(value))
    return builder.root


def decimal(value: float) -> str:
    """xs:decimal with at most 6 decimals, no exponent, no trailing zeros: 0.35, 2, 12.5."""
    if not math.isfinite(value):
        raise ValueError(f"a metric must be a finite number, not {value}")
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
