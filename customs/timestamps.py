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


_FIRST = dt.datetime.min.replace(tzinfo=dt.UTC)
_LAST = dt.datetime.max.replace(tzinfo=dt.UTC)


def local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The instant (UTC) a calendar date begins in `zone`: how dates in payloads, local to their issuer, start.

    The schema allows every xs:date of years 1 to 9999; an instant Python cannot hold (0001-01-01 begins
    before year 1 in UTC when `zone` is east of it) is clamped to the first or last instant it can.
    """
    try:
        return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    except OverflowError:
        return _FIRST if day.year == dt.MINYEAR else _LAST


def local_day_end(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The instant (UTC) the day after `day` begins in `zone` (an exclusive end); the last instant after 9999-12-31."""
    return _LAST if day == dt.date.max else local_midnight(day + dt.timedelta(days=1), zone)
