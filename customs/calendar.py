"""Working-time arithmetic: how many working hours lie between two moments, and when a number of them ends.

Working time is the configured windows (08:00-12:00 and 13:00-17:00 by default)
of working days, in the calendar's time zone. A working day is a configured
weekday that is not a public holiday of the calendar's country (the `holidays`
package, which also knows the substitute days off), with two corrections from
configuration: `extra_holidays` are never working days (bridge days the
Government adds), `extra_working_days` always are (Saturdays worked in exchange),
and an extra holiday wins over an extra working day.

All arithmetic is done on UTC instants, so a zone with daylight saving time
counts the real elapsed time across a change; inputs must be timezone-aware and
may be in any zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from customs.rules import Calendar

HOUR = dt.timedelta(hours=1)
# Ten years of consecutive days without working time means the calendar has none (a configuration error).
_MAX_DAYS = 3660


def working_hours_between(start: dt.datetime, end: dt.datetime, calendar: Calendar) -> float:
    """The working hours from `start` to `end`; 0.0 when `end` is not after `start`."""
    start, end = _utc(start), _utc(end)
    if end <= start:
        return 0.0
    worked = dt.timedelta()
    for opens, closes in _windows(start, calendar):
        if opens >= end:
            break
        worked += min(closes, end) - max(opens, start)
    return worked / HOUR


def deadline(start: dt.datetime, hours: float, calendar: Calendar) -> dt.datetime:
    """The moment `hours` working hours after `start` are used up, in the calendar's zone.

    A start outside working time counts from the next working moment. The
    deadline is the instant the last working hour ends (12:00 for two hours from
    10:00), so `working_hours_between(start, deadline(start, h)) == h`; a moment in
    the non-working gap after it adds no working time.
    """
    if hours < 0:
        raise ValueError(f"hours must not be negative: {hours}")
    start, remaining = _utc(start), dt.timedelta(hours=hours)
    for opens, closes in _windows(start, calendar):
        segment_start = max(opens, start)
        if remaining <= closes - segment_start:
            return (segment_start + remaining).astimezone(ZoneInfo(calendar.timezone))
        remaining -= closes - segment_start
    raise AssertionError("unreachable: _windows raises when the calendar has no working time")


def is_working_day(day: dt.date, calendar: Calendar) -> bool:
    if day in calendar.extra_holidays:
        return False
    if day in calendar.extra_working_days:
        return True
    return day.weekday() in calendar.working_days and day not in _public_holidays(calendar.country, day.year)


def _windows(start: dt.datetime, calendar: Calendar) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The working windows (UTC) that end after `start`, in order, without end."""
    zone = ZoneInfo(calendar.timezone)
    day = start.astimezone(zone).date()
    idle_days = 0
    while True:
        found = False
        if is_working_day(day, calendar):
            for opens, closes in calendar.working_hours:
                window = (_instant(day, opens, zone), _instant(day, closes, zone))
                if window[1] > start:
                    found = True
                    yield window
        idle_days = 0 if found else idle_days + 1
        if idle_days > _MAX_DAYS:
            raise ValueError(f"the calendar has no working time in {_MAX_DAYS} days after {start.isoformat()}")
        day += dt.timedelta(days=1)


def _instant(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=zone).astimezone(dt.UTC)


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a timezone-aware moment is needed, not {moment.isoformat()}")
    return moment.astimezone(dt.UTC)


@lru_cache(maxsize=64)
def _public_holidays(country: str, year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays(country, years=year))
