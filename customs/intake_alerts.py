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
from sqlalchemy import Connection, func, select

from customs.alerts import Window, raise_alert, windows
from customs.context import Context
from gateway.store.tables import rejections

log = structlog.get_logger(__name__)

UNAUTHENTICATED_REJECTIONS = "UNAUTHENTICATED_REJECTIONS"
UNKNOWN_PEER = "unknown"


@dataclass
class Offender:
    """A door and peer's unauthenticated rejections in a window, and their codes."""

    door: str
    peer: str | None
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
        for offender in offenders(context.tx, window, threshold):
            raised += _raise(context, offender, threshold, window)
    return raised


def offenders(tx: Connection, window: Window, threshold: int) -> list[Offender]:
    """The doors and peers with more than `threshold` unauthenticated rejections in the window.

    The store counts them by door, peer and codes in one pass over the window (a flood is
    what this looks for: its rows are not read one by one).
    """
    query = (
        select(rejections.c.door, rejections.c.peer, rejections.c.codes, func.count())
        .where(
            rejections.c.authenticated.is_(False),
            rejections.c.received_at >= window.start,
            rejections.c.received_at < window.end,
        )
        .group_by(rejections.c.door, rejections.c.peer, rejections.c.codes)
    )
    found: dict[tuple[str, str | None], Offender] = {}
    for door, peer, joined, n in tx.execute(query):
        offender = found.setdefault((door, peer), Offender(door, peer))
        offender.count += n
        for code in joined.split():
            offender.codes[code] += n
    over = [offender for offender in found.values() if offender.count > threshold]
    return sorted(over, key=lambda offender: (offender.door, offender.peer or ""))


def _raise(context: Context, offender: Offender, threshold: int, window: Window) -> int:
    timezone = context.rules.business.calendar.timezone
    peer = offender.peer or UNKNOWN_PEER
    common = ", ".join(f"{code} ({n})" for code, n in offender.codes.most_common(3))
    text = (
        f"{offender.count} thông điệp gửi qua cổng {offender.door} từ {peer} bị từ chối mà chữ ký không xác thực "
        f"được trong khoảng {window.describe(timezone)}, vượt ngưỡng {threshold}. Lỗi thường gặp: {common}."
    )
    alert_id = raise_alert(
        context,
        UNAUTHENTICATED_REJECTIONS,
        "MEDIUM",
        [(f"{UNAUTHENTICATED_REJECTIONS}_EXCEEDED", text)],
        party=context.gateway.identity,
        metrics={"HITS": float(offender.count), "THRESHOLD": float(threshold), "WINDOW_HOURS": window.hours},
        scope=(offender.door, peer, window.start.isoformat()),
    )
    if alert_id is not None:
        log.warning(
            "unauthenticated rejections alert",
            alert_id=alert_id,
            door=offender.door,
            peer=peer,
            count=offender.count,
            threshold=threshold,
            window_start=window.start.isoformat(),
        )
    return int(alert_id is not None)
