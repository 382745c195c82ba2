"""Backward countings (a delay ending N days before an anchor date) and start-of-day instants."""

from __future__ import annotations

from datetime import date, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refuge_deadlines.domain.calendars import JURISDICTIONS, is_working_day
from refuge_deadlines.domain.counting import backward_day, due_from_date, roll_back, start_of_day
from refuge_deadlines.domain.rules import Counting, Duration

PARIS = ZoneInfo("Europe/Paris")
FR = partial(is_working_day, "FR")


@pytest.mark.parametrize(
    ("anchor", "duration", "expected"),
    [
        # 60 days before Tue 30 June 2026: 30 back to 31 May, 30 more to 1 May.
        (date(2026, 6, 30), Duration(60, "days"), date(2026, 5, 1)),
        # 120 days before 30 June 2026: Mon 2 March (30 + 31 + 30 + 29).
        (date(2026, 6, 30), Duration(120, "days"), date(2026, 3, 2)),
        # Across a leap February: 60 days before 29 April 2028 = 29 February 2028.
        (date(2028, 4, 29), Duration(60, "days"), date(2028, 2, 29)),
        # Months go back to the same quantième, or the month's last day: 31 May - 3 = 29 Feb.
        (date(2028, 5, 31), Duration(3, "months"), date(2028, 2, 29)),
        (date(2027, 3, 1), Duration(1, "years"), date(2026, 3, 1)),
    ],
)
def test_backward_day(anchor: date, duration: Duration, expected: date) -> None:
    assert backward_day(anchor, duration) == expected


def test_roll_back_goes_to_the_previous_working_day() -> None:
    assert roll_back(date(2026, 5, 1), FR) == date(2026, 4, 30)  # Labour Day, a Friday -> Thursday
    assert roll_back(date(2026, 5, 10), FR) == date(2026, 5, 7)  # Sun, Sat, Fri 8 May (Victory Day)
    assert roll_back(date(2026, 5, 11), FR) == date(2026, 5, 11)  # a working day stays


@pytest.mark.parametrize(
    ("counting", "expected"),
    [
        ("backward", "2026-04-30T23:59:59+02:00"),  # 1 May holiday -> Thu 30 April
        ("backward_calendar", "2026-05-01T23:59:59+02:00"),  # never moved
        ("backward_opening", "2026-05-01T00:00:00+02:00"),  # start of the day, never moved
    ],
)
def test_due_from_date_backward(counting: Counting, expected: str) -> None:
    due = due_from_date(counting, Duration(60, "days"), date(2026, 6, 30), PARIS, FR)
    assert due.isoformat() == expected


def test_start_of_day_where_midnight_is_skipped() -> None:
    # America/Santiago moved from -04:00 to -03:00 at 00:00 on Sun 8 Sept 2024: the day
    # starts at 01:00 -03:00. In Paris the change is at 02:00, so midnight exists.
    santiago = ZoneInfo("America/Santiago")
    assert start_of_day(date(2024, 9, 8), santiago).isoformat() == "2024-09-08T01:00:00-03:00"
    assert start_of_day(date(2026, 3, 29), PARIS).isoformat() == "2026-03-29T00:00:00+01:00"


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.sampled_from(sorted(JURISDICTIONS)),
    st.dates(min_value=date(2025, 1, 1), max_value=date(2040, 12, 31)),
    st.integers(min_value=1, max_value=400),
)
def test_backward_closing_is_a_working_day_never_after_anchor_minus_n(
    code: str, anchor: date, n: int
) -> None:
    zone = ZoneInfo(JURISDICTIONS[code].timezone)
    working = partial(is_working_day, code)
    closes = due_from_date("backward", Duration(n, "days"), anchor, zone, working)
    unmoved = due_from_date("backward_calendar", Duration(n, "days"), anchor, zone, working)
    opens = due_from_date("backward_opening", Duration(n, "days"), anchor, zone, working)
    assert unmoved.date() == anchor - timedelta(days=n)
    assert closes <= unmoved
    assert unmoved - closes < timedelta(days=15)
    assert working(closes.date())
    assert closes.timetz().replace(tzinfo=None) == time(23, 59, 59)
    assert opens.date() == unmoved.date() and opens.time() == time(0, 0)
    assert str(closes.tzinfo) == str(opens.tzinfo) == JURISDICTIONS[code].timezone
