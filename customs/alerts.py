"""Risk alerts: warnings to the managing units subscribed to their kind (business.toml [alerts]).

An alert is raised once. Its id is derived from what it is about (its kind, its
declaration and party and, for rate alerts, the window measured), and the store's
unique `alert_id` settles races (INSERT ... ON CONFLICT DO NOTHING): a retried
message, a replayed decision or two workers noticing the same thing never warn
twice. The id carries no date for that reason; `raisedAt` says when.

RISK_ALERT goes out with function 26 (decision), the only one the catalogue
allows it: it is the gateway's own finding, not a reply to the recipient, so it
has no preReference; its Subject/reference is the alert id.

`check_rates` is a timer task: over fixed windows of `[alerts] window_s` it
compares with the thresholds each registered sender's share of messages rejected
at intake (only rejections whose signature verified as that sender: anyone can claim
one), and each declarant's share of decided declarations whose decision
found an order mismatch; it warns once per party, kind and window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from customs.context import Context
from customs.matching import MISMATCH_CODES
from customs.notices.alert import RiskAlert, risk_alert
from customs.rules import AlertSettings
from customs.state import alerts, decisions, declarations
from gateway.outbound.compose import Subject
from gateway.store.tables import messages, rejections

log = structlog.get_logger(__name__)

DOCUMENT_TYPE = "RISK_ALERT"
FUNCTION = "26"
SEVERITIES = ("LOW", "MEDIUM", "HIGH")
REJECTION_RATE = "REJECTION_RATE"
MISMATCH_RATE = "MISMATCH_RATE"
RATE_SEVERITY = "MEDIUM"
# Windows are counted from a local Monday midnight: daily windows start at midnight in the
# calendar's time zone, weekly ones on Mondays.
_WINDOW_ORIGIN = dt.datetime(2000, 1, 3)


def raise_alert(
    context: Context,
    kind: str,
    severity: str,
    reasons: list[tuple[str, str]],
    *,
    declaration: str | None = None,
    party: str | None = None,
    metrics: dict[str, float] | None = None,
    scope: Sequence[str] = (),
) -> str | None:
    """Record an alert and send a signed RISK_ALERT to each party subscribed to `kind`.

    Its subject is the declaration when one is given, else the party. Returns the
    alert id, or None when the same kind was already raised for the same
    declaration, party and `scope` (what else tells one such alert from another:
    a window, a certificate and a threshold, ...).
    """
    return _raise(context, kind, severity, reasons, declaration, party, metrics or {}, scope=tuple(scope))


def alert_id_for(kind: str, declaration: str | None, party: str | None, *scope: str) -> str:
    """The id of the alert about these things: the same inputs always give the same id."""
    key = "\x1f".join([kind, declaration or "", party or "", *scope])
    return "RA-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20].upper()


def _raise(
    context: Context,
    kind: str,
    severity: str,
    reasons: Sequence[tuple[str, str]],
    declaration: str | None,
    party: str | None,
    metrics: Mapping[str, float],
    scope: tuple[str, ...],
) -> str | None:
    if severity not in SEVERITIES:
        raise ValueError(f"alert severity {severity!r} is not one of {SEVERITIES}")
    if declaration is None and party is None:
        raise ValueError("an alert is about a declaration or a party")
    if not reasons:
        raise ValueError("an alert needs at least one reason")
    alert = RiskAlert(
        alert_id_for(kind, declaration, party, *scope),
        context.now,
        severity,
        kind,
        declaration,
        party,
        reasons,
        metrics,
    )
    payload = risk_alert(alert)
    context.check(DOCUMENT_TYPE, payload)  # an invalid alert is a bug even when nobody is subscribed to it
    bound = log.bind(
        alert_id=alert.alert_id, kind=kind, declaration=declaration, party=party, correlation_id=context.correlation_id
    )
    recipients = _recipients(
        context, context.rules.business.alerts.subscribers.get(kind, ())
    )
    if not _insert_once(context.tx, alert, recipients):
        bound.info("alert already raised")
        return None
    for recipient in recipients:
        context.emit(recipient, Subject(DOCUMENT_TYPE, FUNCTION, alert.alert_id), payload)
    bound.info("alert raised", severity=severity, recipients=recipients)
    return alert.alert_id


def _recipients(context: Context, subscribers: Iterable[str]) -> list[str]:
    """The subscribers that can receive it; an unknown or suspended one is skipped (and logged), not fatal."""
    recipients = []
    for identity in dict.fromkeys(subscribers):
        party = context.parties.get(identity)
        if party is not None and party.active:
            recipients.append(identity)
        else:
            log.warning(
                "alert subscriber is not an active party; skipped",
                party=identity,
                correlation_id=context.correlation_id,
            )
    return recipients


def _insert_once(tx: Connection, alert: RiskAlert, recipients: list[str]) -> bool:
    """Store the alert unless its id is taken; returns whether it was new."""
    dialect_insert = postgresql.insert if tx.dialect.name == "postgresql" else sqlite.insert
    statement = (
        dialect_insert(alerts)
        .values(
            alert_id=alert.alert_id,
            kind=alert.kind,
            severity=alert.severity,
            declaration=alert.declaration,
            party=alert.party,
            raised_at=alert.raised_at,
            recipients=" ".join(recipients)[:512],
            reasons=[{"code": code, "text": text} for code, text in alert.reasons],
            metrics=dict(alert.metrics) or None,
        )
        .on_conflict_do_nothing(index_elements=["alert_id"])
        .returning(alerts.c.id)
    )
    return tx.execute(statement).first() is not None


# --- rates ------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    start: dt.datetime  # UTC, inclusive
    end: dt.datetime  # UTC, exclusive

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    def describe(self, timezone: str) -> str:
        zone = zoneinfo.ZoneInfo(timezone)
        return f"{self.start.astimezone(zone):%Y-%m-%d %H:%M}–{self.end.astimezone(zone):%Y-%m-%d %H:%M}"


def windows(now: dt.datetime, length: dt.timedelta, timezone: str) -> tuple[Window, Window]:
    """The window that just ended and the one in progress (checking both never misses a window's last minutes)."""
    origin = _WINDOW_ORIGIN.replace(tzinfo=zoneinfo.ZoneInfo(timezone)).astimezone(dt.UTC)
    start = origin + ((now - origin) // length) * length
    return Window(start - length, start), Window(start, start + length)


@dataclass(frozen=True)
class Rate:
    party: str
    hits: int
    total: int

    @property
    def value(self) -> float:
        return self.hits / self.total


def check_rates(context: Context) -> int:
    """Timer task: raise REJECTION_RATE and MISMATCH_RATE alerts; returns how many were raised."""
    rules = context.rules.business
    settings, timezone = rules.alerts, rules.calendar.timezone
    raised = 0
    for window in windows(context.now, settings.window, timezone):
        rejections_by_party, codes = _rejection_counts(context.tx, window)
        for rate in _over(rejections_by_party, settings.rejection_rate_threshold, settings):
            if context.parties.get(rate.party) is None:
                continue  # a claimed sender that is not registered: nobody to warn about
            common = ", ".join(f"{code} ({n})" for code, n in codes[rate.party].most_common(3))
            text = (
                f"{rate.hits}/{rate.total} thông điệp của {rate.party} bị từ chối khi tiếp nhận ({rate.value:.0%}) "
                f"trong khoảng {window.describe(timezone)}, vượt ngưỡng {settings.rejection_rate_threshold:.0%}. "
                f"Lỗi thường gặp: {common}."
            )
            raised += _raise_rate(context, REJECTION_RATE, rate, text, settings.rejection_rate_threshold, window)
        for rate in _over(_mismatch_counts(context.tx, window), settings.mismatch_rate_threshold, settings):
            text = (
                f"{rate.hits}/{rate.total} tờ khai của {rate.party} có sai lệch so với đơn hàng ({rate.value:.0%}) "
                f"trong khoảng {window.describe(timezone)}, vượt ngưỡng {settings.mismatch_rate_threshold:.0%}."
            )
            raised += _raise_rate(context, MISMATCH_RATE, rate, text, settings.mismatch_rate_threshold, window)
    return raised


def _over(counts: Mapping[str, tuple[int, int]], threshold: float, settings: AlertSettings) -> list[Rate]:
    """The parties with enough messages whose rate passes (is above) the threshold."""
    rates = [Rate(party, hits, total) for party, (hits, total) in sorted(counts.items())]
    return [rate for rate in rates if rate.total >= settings.min_messages and rate.value > threshold]


def _raise_rate(context: Context, kind: str, rate: Rate, text: str, threshold: float, window: Window) -> int:
    metrics = {
        "HITS": float(rate.hits),
        "TOTAL": float(rate.total),
        "RATE": rate.value,
        "THRESHOLD": threshold,
        "WINDOW_HOURS": window.hours,
    }
    raised = _raise(
        context,
        kind,
        RATE_SEVERITY,
        [(f"{kind}_EXCEEDED", text)],
        None,
        rate.party,
        metrics,
        scope=(window.start.isoformat(),),
    )
    return int(raised is not None)


def _rejection_counts(tx: Connection, window: Window) -> tuple[dict[str, tuple[int, int]], dict[str, Counter[str]]]:
    """Per sender: (rejected, accepted + rejected) in the window, and the rejection codes' counts."""
    accepted = dict(
        tx.execute(
            select(messages.c.sender, func.count())
            .where(messages.c.received_at >= window.start, messages.c.received_at < window.end)
            .group_by(messages.c.sender)
        ).all()
    )
    codes: dict[str, Counter[str]] = {}
    rejected: Counter[str] = Counter()
    query = select(rejections.c.sender, rejections.c.codes).where(
        rejections.c.sender.is_not(None),
        rejections.c.authenticated.is_(True),  # anyone can claim a sender: only its own verified messages count
        rejections.c.received_at >= window.start,
        rejections.c.received_at < window.end,
    )
    for sender, joined in tx.execute(query):
        rejected[sender] += 1
        codes.setdefault(sender, Counter()).update(joined.split())
    counts = {sender: (rejected[sender], rejected[sender] + accepted.get(sender, 0)) for sender in rejected}
    return counts, codes


def _mismatch_counts(tx: Connection, window: Window) -> dict[str, tuple[int, int]]:
    """Per declarant: (declarations whose latest decision found an order mismatch, decided declarations),
    of the declarations received in the window."""
    query = (
        select(declarations.c.declarant, declarations.c.number, decisions.c.record)
        .join(decisions, decisions.c.declaration == declarations.c.number)
        .where(declarations.c.received_at >= window.start, declarations.c.received_at < window.end)
        .order_by(decisions.c.id)
    )
    latest = {(declarant, number): record for declarant, number, record in tx.execute(query)}
    counts: dict[str, tuple[int, int]] = {}
    for (declarant, _), record in latest.items():
        hits, total = counts.get(declarant, (0, 0))
        mismatched = any(finding["code"] in MISMATCH_CODES for finding in record.get("findings", ()))
        counts[declarant] = (hits + mismatched, total + 1)
    return counts
