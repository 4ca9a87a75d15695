"""Dates at the ends of xs:date's years 1..9999 still give an instant (clamped), never an OverflowError."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from customs.timestamps import local_day_end, local_midnight

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def test_a_local_day_begins_at_its_midnight_in_utc() -> None:
    assert local_midnight(dt.date(2026, 3, 11), VN) == dt.datetime(2026, 3, 10, 17, tzinfo=dt.UTC)
    assert local_day_end(dt.date(2026, 3, 11), VN) == dt.datetime(2026, 3, 11, 17, tzinfo=dt.UTC)


def test_the_calendars_ends_are_clamped() -> None:
    assert local_midnight(dt.date.min, VN) == dt.datetime.min.replace(tzinfo=dt.UTC)  # 0001-01-01 begins in year 0 UTC
    assert local_day_end(dt.date.max, VN) == dt.datetime.max.replace(tzinfo=dt.UTC)
