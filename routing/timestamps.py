"""Moments as the store keeps them: always UTC.

SQLite keeps no time zone (it writes the wall time and reads back a naive
value), PostgreSQL converts to UTC; so every moment is converted to UTC before
it is written or compared in SQL, and a naive value read back is UTC.
"""

from __future__ import annotations

import datetime as dt


def as_utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def as_utc_or_none(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else as_utc(moment)
