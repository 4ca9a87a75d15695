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
