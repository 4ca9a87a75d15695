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



EARLIEST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 12, 30, tzinfo=dt.UTC)
"""The instants a payload's xs:dateTime may name (README, "No receipt that a handler will contradict"): the
schema allows any day of years 1 to 9999 in zones up to ±14:00, but an instant on the calendar's first or last
UTC day cannot be moved to another zone or a day on without overflowing, so intake refuses it
(PAYLOAD_VALUE_UNSUPPORTED) rather than acknowledge what the handlers cannot read. Every xs:date is processed."""

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
    """Why a schema-valid xs:date or xs:dateTime (`primitive`) is one the gateway cannot process, or None."""
    if primitive == "date":
        return None if parse_date(text) is not None else f"{text.strip()!r} is not an xs:date the gateway reads"
    moment = parse_zoned(text)
    if moment is None:
        return f"{text.strip()!r} is not a zoned xs:dateTime the gateway can represent"
    try:
        instant = moment.astimezone(dt.UTC)
    except OverflowError:
        instant = None
    if instant is None or not EARLIEST <= instant < LATEST:
        return f"{text.strip()} is outside the instants the gateway processes, {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} UTC"
    return None
