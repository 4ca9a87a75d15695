"""Moments as the store keeps them: always UTC.

SQLite keeps no time zone (it writes the wall time and reads back a naive
value), PostgreSQL converts to UTC; so every moment is converted to UTC before
it is written or compared in SQL, and a naive value read back is UTC.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def as_utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def as_utc_or_none(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else as_utc(moment)


def local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The instant (UTC) a calendar date begins in `zone`: how dates in payloads, local to their issuer, start."""
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
