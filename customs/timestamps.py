"""Moments as the store keeps them: always UTC; and dates and times read from payloads as XML Schema defines them.

SQLite keeps no time zone (it writes the wall time and reads back a naive
value), PostgreSQL converts to UTC; so every moment is converted to UTC before
it is written or compared in SQL, and a naive value read back is UTC.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from gateway.xsdtime import parse_date, parse_zoned


def as_utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def as_utc_or_none(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else as_utc(moment)


def local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The instant (UTC) a calendar date begins in `zone`: how dates in payloads, local to their issuer, start."""
    try:
        return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    except OverflowError:  # the calendar's first day, east of UTC: its first instant there
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def local_end(day: dt.date, zone: ZoneInfo) -> dt.datetime | None:
    """The instant (UTC) a calendar date ends in `zone` (the next day's midnight); None (no end) after the last."""
    try:
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(dt.UTC)
    except OverflowError:
        return None


def zoned(text: str) -> dt.datetime:
    """A payload's xs:dateTime (24:00:00 is the next day's 00:00:00); intake refused any it cannot read."""
    moment = parse_zoned(text)
    if moment is None:
        raise ValueError(f"{text!r} is not a zoned xs:dateTime")
    return moment


def calendar_day(text: str) -> dt.date:
    """A payload's xs:date."""
    day = parse_date(text)
    if day is None:
        raise ValueError(f"{text!r} is not an xs:date")
    return day
