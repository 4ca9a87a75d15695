"""xs:dateTime values as the gateway reads them (XML Schema 1.0 Part 2, 3.2.7).

Python's `datetime.fromisoformat` is close but not the same: XML Schema allows
24:00:00 (the first instant of the next day), any number of fraction digits and
years up to 9999 with zones up to ±14:00. A value that is not a valid zoned
xs:dateTime gives None: the envelope's schema is what reports it.
"""

from __future__ import annotations

import datetime as dt
import re

_DATE_TIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})"
)


def parse_zoned(text: str) -> dt.datetime | None:
    """The instant a zoned xs:dateTime names, or None when it is not one."""
    match = _DATE_TIME.fullmatch(text.strip())
    if match is None:
        return None
    hour = int(match["hour"])
    end_of_day = hour == 24 and match["minute"] == "00" and match["second"] == "00" and not (match["fraction"] or "").strip("0")
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    if zone[1:] > "14:00":  # XML Schema: offsets within ±14:00
        return None
    clock = "00" if end_of_day else match["hour"]
    try:
        moment = dt.datetime.fromisoformat(f"{match['date']}T{clock}:{match['minute']}:{match['second']}.{fraction}{zone}")
    except ValueError:
        return None
    if end_of_day:
        try:
            moment += dt.timedelta(days=1)
        except OverflowError:
            return None
    return moment


FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(9998, 12, 31)
"""The calendar days a payload's dates and times may name (README, "Dates and times"): the schema allows years 1
to 9999, but a day near either end cannot be moved to UTC, to another zone or a day later without overflowing, so
the gateway refuses it at intake (PAYLOAD_VALUE_UNSUPPORTED) rather than acknowledge what its handlers cannot read."""

_DATE = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:\d{2})?")


def parse_date(text: str) -> dt.date | None:
    """The calendar day an xs:date names (its zone, if any, is the issuer's and does not change the day)."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        return None
    try:
        return dt.date.fromisoformat(match["date"])
    except ValueError:
        return None


def unsupported(primitive: str, text: str) -> str | None:
    """Why a schema-valid xs:date or xs:dateTime (`primitive`) is outside what the gateway processes, or None."""
    if primitive == "dateTime":
        moment = parse_zoned(text)
        day = None if moment is None else moment.date()
    else:
        day = parse_date(text)
    if day is None:
        return f"{text.strip()!r} is not a {'zoned ' if primitive == 'dateTime' else ''}xs:{primitive} the gateway reads"
    if not FIRST_DAY <= day <= LAST_DAY:
        return f"{text.strip()} is outside the days the gateway processes, {FIRST_DAY} to {LAST_DAY}"
    return None
