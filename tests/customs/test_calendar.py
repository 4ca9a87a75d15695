"""Working-time arithmetic: windows, lunch break, weekends, Vietnamese public holidays, extra days, zones."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import REPO

from customs.calendar import deadline, is_working_day, working_hours_between
from customs.rules import Calendar, business_rules

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CALENDAR = Calendar()  # the defaults: Asia/Ho_Chi_Minh, MON-FRI, 08-12 and 13-17, holidays of VN


def at(text: str) -> dt.datetime:
    """A local Vietnamese time, "YYYY-MM-DD HH:MM"."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=VN)


def test_the_repository_calendar_is_the_default_one() -> None:
    assert business_rules(REPO / "config" / "business.toml").calendar == CALENDAR


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        ("2026-03-11 09:00", "2026-03-11 10:30", 1.5),  # within a morning (a Wednesday)
        ("2026-03-11 11:00", "2026-03-11 14:00", 2.0),  # the lunch break does not count
        ("2026-03-11 12:15", "2026-03-11 13:30", 0.5),  # start during lunch
        ("2026-03-11 07:00", "2026-03-11 08:45", 0.75),  # start before opening
        ("2026-03-11 18:00", "2026-03-12 09:00", 1.0),  # start after hours
        ("2026-03-11 16:30", "2026-03-11 20:00", 0.5),  # end after hours
        ("2026-03-11 08:00", "2026-03-11 17:00", 8.0),  # one full day
        ("2026-03-13 16:00", "2026-03-16 09:00", 2.0),  # over a weekend
        ("2026-03-14 10:00", "2026-03-15 16:00", 0.0),  # within a weekend
        ("2026-03-11 12:05", "2026-03-11 12:55", 0.0),  # within lunch
        ("2026-02-13 16:00", "2026-02-23 09:00", 2.0),  # Tết 2026: 16-20 February, then a weekend
        ("2025-01-24 16:00", "2025-02-03 09:00", 2.0),  # Tết 2025: 27 January - 1 February
        ("2025-08-29 16:00", "2025-09-03 09:00", 2.0),  # National Day 2025: 1 and 2 September
        ("2025-04-04 16:00", "2025-04-08 09:00", 2.0),  # Hùng Kings' day 2025: Monday 7 April
        ("2026-04-24 16:00", "2026-04-28 09:00", 2.0),  # Hùng Kings' day 2026 falls on Sunday: Monday off
        ("2025-04-29 16:00", "2025-05-05 09:00", 2.0),  # 30 April, 1 May and the substitute day 2 May
    ],
)
def test_working_hours_between(start: str, end: str, hours: float) -> None:
    assert working_hours_between(at(start), at(end), CALENDAR) == pytest.approx(hours)


def test_a_working_week_has_forty_hours() -> None:
    assert working_hours_between(at("2026-03-09 00:00"), at("2026-03-16 00:00"), CALENDAR) == 40.0


def test_an_end_before_the_start_counts_nothing() -> None:
    assert working_hours_between(at("2026-03-11 15:00"), at("2026-03-11 09:00"), CALENDAR) == 0.0


def test_moments_in_other_zones_are_the_same_instants() -> None:
    start = dt.datetime(2026, 3, 11, 2, 0, tzinfo=dt.UTC)  # 09:00 in Hanoi
    end = dt.datetime(2026, 3, 11, 16, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 07:00 UTC = 14:00 in Hanoi
    assert working_hours_between(start, end, CALENDAR) == 4.0
    assert deadline(start, 2, CALENDAR) == at("2026-03-11 11:00")
    assert deadline(start, 2, CALENDAR).utcoffset() == dt.timedelta(hours=7)


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        working_hours_between(dt.datetime(2026, 3, 11, 9), at("2026-03-11 10:00"), CALENDAR)
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline(dt.datetime(2026, 3, 11, 9), 2, CALENDAR)


def test_extra_holidays_and_extra_working_days() -> None:
    calendar = dataclasses.replace(
        CALENDAR,
        extra_holidays=frozenset({dt.date(2026, 3, 12)}),  # a Thursday off
        extra_working_days=frozenset({dt.date(2026, 3, 14), dt.date(2026, 2, 18)}),  # a Saturday; a Tết day
    )
    assert working_hours_between(at("2026-03-11 16:00"), at("2026-03-13 09:00"), calendar) == 2.0
    assert working_hours_between(at("2026-03-13 16:00"), at("2026-03-14 09:00"), calendar) == 2.0
    assert working_hours_between(at("2026-02-17 00:00"), at("2026-02-19 00:00"), calendar) == 8.0
    assert deadline(at("2026-03-13 16:30"), 2, calendar) == at("2026-03-14 09:30")


def test_an_extra_holiday_wins_over_an_extra_working_day() -> None:
    day = dt.date(2026, 3, 14)
    calendar = dataclasses.replace(CALENDAR, extra_holidays=frozenset({day}), extra_working_days=frozenset({day}))
    assert not is_working_day(day, calendar)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        ("2026-03-11 10:00", 2, "2026-03-11 12:00"),  # ends with the morning, not after lunch
        ("2026-03-11 11:00", 2, "2026-03-11 14:00"),
        ("2026-03-11 12:30", 2, "2026-03-11 15:00"),  # from lunch: counts from 13:00
        ("2026-03-11 06:00", 2, "2026-03-11 10:00"),
        ("2026-03-11 18:00", 2, "2026-03-12 10:00"),  # after hours: counts from the next morning
        ("2026-03-13 16:30", 2, "2026-03-16 09:30"),  # over a weekend
        ("2026-02-13 16:30", 2, "2026-02-23 09:30"),  # over Tết
        ("2025-08-29 17:00", 2, "2025-09-03 10:00"),  # over National Day
        ("2026-03-11 12:30", 0, "2026-03-11 13:00"),  # no hours: the next working moment
        ("2026-03-11 09:00", 16, "2026-03-13 09:00"),
    ],
)
def test_deadline(start: str, hours: float, expected: str) -> None:
    assert deadline(at(start), hours, CALENDAR) == at(expected)


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2027, 12, 31), timezones=st.just(VN)),
    minutes=st.integers(min_value=0, max_value=60 * 40),
)
def test_the_deadline_uses_up_exactly_the_hours(start: dt.datetime, minutes: int) -> None:
    hours = minutes / 60
    assert working_hours_between(start, deadline(start, hours, CALENDAR), CALENDAR) == pytest.approx(hours)


def test_negative_hours_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        deadline(at("2026-03-11 09:00"), -1, CALENDAR)


def test_a_calendar_without_working_days_has_no_deadline() -> None:
    with pytest.raises(ValueError, match="no working time"):
        deadline(at("2026-03-11 09:00"), 1, dataclasses.replace(CALENDAR, working_days=()))


def test_vietnam_has_no_daylight_saving_time() -> None:
    # A whole year of working days counts 8 hours each, whatever the season.
    year = [dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(365)]
    working = sum(is_working_day(day, CALENDAR) for day in year)
    assert working_hours_between(at("2026-01-01 00:00"), at("2027-01-01 00:00"), CALENDAR) == working * 8


def test_a_zone_with_daylight_saving_counts_real_elapsed_time() -> None:
    paris = dataclasses.replace(
        CALENDAR,
        timezone="Europe/Paris",
        country="FR",
        working_days=tuple(range(7)),
        working_hours=((dt.time(0), dt.time(12)),),
    )
    zone = ZoneInfo("Europe/Paris")
    # 29 March 2026: clocks go from 02:00 to 03:00, so the morning lasts 11 hours.
    start = dt.datetime(2026, 3, 29, 0, 0, tzinfo=zone)
    assert working_hours_between(start, dt.datetime(2026, 3, 29, 12, 0, tzinfo=zone), paris) == 11.0
    assert deadline(start, 11, paris) == dt.datetime(2026, 3, 29, 12, 0, tzinfo=zone)
