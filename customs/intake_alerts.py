"""Alerts about intake itself: many rejections whose signature did not verify, from one door and peer.

Such rejections cannot count against the party they claim (anyone can claim one, see
customs/alerts.py), so they are counted apart, per door (http, soap, amqp) and peer
(the client's address; for AMQP the message's user_id or app_id). `check_unauthenticated`
is a timer task: over the same windows as the rates, a door and peer with more than
`[alerts] unauthenticated_rejections_threshold` of them raises an UNAUTHENTICATED_REJECTIONS
alert, once per door, peer and window. Its subject is the gateway itself.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import structlog
from sqlalchemy import Connection, select

from customs.alerts import Window, raise_alert, windows
from customs.context import Context
from gateway.store.tables import rejections

log = structlog.get_logger(__name__)

UNAUTHENTICATED_REJECTIONS = "UNAUTHENTICATED_REJECTIONS"
UNKNOWN_PEER = "unknown"


@dataclass
class Rejected:
    """The unauthenticated rejections from one door and peer in a window."""

    count: int = 0
    codes: Counter[str] = field(default_factory=Counter)


def check_unauthenticated(context: Context) -> int:
    """Timer task: raise the UNAUTHENTICATED_REJECTIONS alerts now due; returns how many were raised."""
    rules = context.rules.business
    threshold = rules.alerts.unauthenticated_rejections_threshold
    if threshold is None:
        return 0
    raised = 0
    for window in windows(context.now, rules.alerts.window, rules.calendar.timezone):
        for (door, peer), rejected in sorted(unauthenticated_counts(context.tx, window).items()):
            if rejected.count > threshold:
                raised += _raise(context, door, peer, rejected, threshold, window)
    return raised


def unauthenticated_counts(tx: Connection, window: Window) -> dict[tuple[str, str], Rejected]:
    """Per (door, peer): the rejections in the window whose signature did not verify, and their codes."""
    query = select(rejections.c.door, rejections.c.peer, rejections.c.codes).where(
        rejections.c.authenticated.is_(False),
        rejections.c.received_at >= window.start,
        rejections.c.received_at < window.end,
    )
    counts: dict[tuple[str, str], Rejected] = {}
    for door, peer, joined in tx.execute(query):
        rejected = counts.setdefault((door, peer or UNKNOWN_PEER), Rejected())
        rejected.count += 1
        rejected.codes.update(joined.split())
    return counts


def _raise(context: Context, door: str, peer: str, rejected: Rejected, threshold: int, window: Window) -> int:
    timezone = context.rules.business.calendar.timezone
    common = ", ".join(f"{code} ({n})" for code, n in rejected.codes.most_common(3))
    text = (
        f"{rejected.count} thông điệp gửi qua cổng {door} từ {peer} bị từ chối mà chữ ký không xác thực được "
        f"trong khoảng {window.describe(timezone)}, vượt ngưỡng {threshold}. Lỗi thường gặp: {common}."
    )
    alert_id = raise_alert(
        context,
        UNAUTHENTICATED_REJECTIONS,
        "MEDIUM",
        [(f"{UNAUTHENTICATED_REJECTIONS}_EXCEEDED", text)],
        party=context.gateway.identity,
        metrics={
            "HITS": float(rejected.count),
            "THRESHOLD": float(threshold),
            "WINDOW_HOURS": window.hours,
        },
        scope=(door, peer, window.start.isoformat()),
    )
    if alert_id is not None:
        log.warning(
            "unauthenticated rejections alert",
            alert_id=alert_id,
            door=door,
            peer=peer,
            count=rejected.count,
            threshold=threshold,
            window_start=window.start.isoformat(),
        )
    return int(alert_id is not None)
