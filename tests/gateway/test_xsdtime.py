"""Reading xs:dateTime values as XML Schema defines them."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.xsdtime import parse_zoned, unsupported

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-03-11T14:20:00+07:00", dt.datetime(2026, 3, 11, 7, 20, tzinfo=UTC)),
        ("2026-03-11T07:20:00Z", dt.datetime(2026, 3, 11, 7, 20, tzinfo=UTC)),
        ("2026-03-11T24:00:00+07:00", dt.datetime(2026, 3, 11, 17, 0, tzinfo=UTC)),  # the next day's midnight
        ("2026-12-31T24:00:00Z", dt.datetime(2027, 1, 1, tzinfo=UTC)),
        ("2026-03-11T07:20:00.123456789Z", dt.datetime(2026, 3, 11, 7, 20, 0, 123456, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", dt.datetime(1, 1, 1, tzinfo=UTC)),
        ("2026-03-11T00:00:00-14:00", dt.datetime(2026, 3, 11, 14, 0, tzinfo=UTC)),
    ],
)
def test_values_xml_schema_allows_name_their_instant(text: str, instant: dt.datetime) -> None:
    assert parse_zoned(text) == instant


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-11T07:20:00",  # no zone
        "2026-03-11T24:00:01Z",
        "2026-03-11T24:00:00.5Z",
        "2026-02-30T10:00:00Z",
        "2026-03-11T07:20:00+14:30",
        "9999-12-31T24:00:00Z",  # the day after is out of range
        "11-03-2026",
        "",
    ],
)
def test_anything_else_is_not_a_zoned_date_time(text: str) -> None:
    assert parse_zoned(text) is None


@pytest.mark.parametrize(
    ("primitive", "text", "refused"),
    [
        ("dateTime", "2026-03-11T24:00:00+07:00", False),
        ("dateTime", "0001-01-02T00:00:00Z", False),
        ("dateTime", "0001-01-02T00:00:00+00:01", True),  # 0001-01-01T23:59Z
        ("dateTime", "0001-01-01T00:00:00+14:00", True),  # before year 1 in UTC
        ("dateTime", "9999-12-29T23:59:59.999999Z", False),
        ("dateTime", "9999-12-29T24:00:00Z", True),
        ("dateTime", "9999-12-31T24:00:00Z", True),  # the day after does not exist
        ("date", "0001-01-01", False),
        ("date", "9999-12-31", False),
        ("date", "2026-03-11+07:00", False),
    ],
)
def test_instants_the_gateway_cannot_represent_are_unsupported(primitive: str, text: str, refused: bool) -> None:
    assert (unsupported(primitive, text) is not None) == refused
