"""The pure counting functions, on hand-worked dates (no calendar unless said)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from refuge_deadlines.domain.counting import (
    add_months,
    compute_due,
    franc_last_day,
    franc_last_day_cpc,
    franc_last_day_same_quantieme,
    hours_after,
    non_franc_last_day,
    roll_forward,
)
from refuge_deadlines.domain.rules import Duration

PARIS = ZoneInfo("Europe/Paris")
DAYS_7 = Duration(7, "days")
MONTH_1 = Duration(1, "months")


def _weekdays(day: date) -> bool:
    return day.weekday() < 5


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # no 31 February: month end
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2026, 3, 7), 1, date(2026, 4, 7)),  # same quantième
        (date(2026, 11, 30), 3, date(2027, 2, 28)),  # across the year
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),  # a year from 29 February
    ],
)
def test_add_months(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_docstring_example_seven_days_franc() -> None:
    # Notified Mon 2 March 2026: first day Tue 3 March, days 3..9, in time Tue 10 March.
    assert franc_last_day(date(2026, 3, 2), DAYS_7) == date(2026, 3, 10)
    # De date à date: Mon 9 March.
    assert non_franc_last_day(date(2026, 3, 2), DAYS_7) == date(2026, 3, 9)


def test_design_example_one_month_franc() -> None:
    # Notified 6 March: first day 7 March, same quantième: 7 April; both readings agree.
    assert franc_last_day_same_quantieme(date(2026, 3, 6), MONTH_1) == date(2026, 4, 7)
    assert franc_last_day_cpc(date(2026, 3, 6), MONTH_1) == date(2026, 4, 7)
    assert franc_last_day(date(2026, 3, 6), MONTH_1) == date(2026, 4, 7)


@pytest.mark.parametrize(
    ("notified", "reading_a", "reading_b"),
    [
        # 30 Jan: (A) first day 31 Jan -> 28 Feb; (B) 30 Feb missing -> 28 Feb + 1 = 1 March.
        (date(2026, 1, 30), date(2026, 2, 28), date(2026, 3, 1)),
        # 29 Jan: (A) first day 30 Jan -> 28 Feb; (B) 28 Feb + 1 = 1 March.
        (date(2026, 1, 29), date(2026, 2, 28), date(2026, 3, 1)),
        # 31 Jan: (A) first day 1 Feb -> 1 March; (B) 28 Feb + 1 = 1 March. Same.
        (date(2026, 1, 31), date(2026, 3, 1), date(2026, 3, 1)),
        # 28 Feb: (A) first day 1 March -> 1 April; (B) 28 March + 1 = 29 March.
        (date(2026, 2, 28), date(2026, 4, 1), date(2026, 3, 29)),
        # 30 April: (A) first day 1 May -> 1 June; (B) 30 May + 1 = 31 May.
        (date(2026, 4, 30), date(2026, 6, 1), date(2026, 5, 31)),
    ],
)
def test_month_end_readings_and_the_earliest(notified: date, reading_a: date, reading_b: date) -> None:
    assert franc_last_day_same_quantieme(notified, MONTH_1) == reading_a
    assert franc_last_day_cpc(notified, MONTH_1) == reading_b
    assert franc_last_day(notified, MONTH_1) == min(reading_a, reading_b)


def test_years_count_as_twelve_months() -> None:
    # Notified 28 Feb 2027: (A) first day 1 March 2027 -> 1 March 2028; (B) 28 Feb 2028 + 1
    # = 29 Feb 2028 (leap). Earliest: 29 Feb 2028.
    assert franc_last_day(date(2027, 2, 28), Duration(1, "years")) == date(2028, 2, 29)


def test_roll_forward_skips_weekend() -> None:
    assert roll_forward(date(2026, 3, 14), _weekdays) == date(2026, 3, 16)  # Sat -> Mon
    assert roll_forward(date(2026, 3, 16), _weekdays) == date(2026, 3, 16)  # Mon stays


def test_hours_are_absolute_across_the_clock_change() -> None:
    notified = datetime(2026, 3, 28, 10, 0, tzinfo=PARIS)  # +01:00
    due = hours_after(notified, 48, PARIS)
    assert due.isoformat() == "2026-03-30T11:00:00+02:00"
    assert due.astimezone(UTC) - notified.astimezone(UTC) == timedelta(hours=48)
    # Autumn: 25 Oct 2026 03:00 -> 02:00. 10:00+02:00 + 48 h = 27 Oct 09:00+01:00.
    autumn = hours_after(datetime(2026, 10, 24, 10, 0, tzinfo=PARIS), 48, PARIS)
    assert autumn.isoformat() == "2026-10-26T09:00:00+01:00"


def test_compute_due_end_of_day_in_the_zone() -> None:
    due = compute_due("franc", MONTH_1, datetime(2026, 3, 6, 10, 30, tzinfo=PARIS), PARIS, _weekdays)
    assert due == datetime(2026, 4, 7, 23, 59, 59, tzinfo=PARIS)
    assert due.isoformat() == "2026-04-07T23:59:59+02:00"


def test_calendar_is_never_moved_and_calendar_us_is() -> None:
    new_york = ZoneInfo("America/New_York")
    decided = datetime(2026, 4, 2, 11, 0, tzinfo=new_york)  # Thu; + 30 = Sat 2 May
    thirty = Duration(30, "days")
    assert compute_due("calendar", thirty, decided, new_york, _weekdays).date() == date(2026, 5, 2)
    assert compute_due("calendar_us", thirty, decided, new_york, _weekdays).date() == date(2026, 5, 4)


def test_compute_due_rejects_naive_and_mismatched_units() -> None:
    with pytest.raises(ValueError, match="notified_at"):
        compute_due("franc", MONTH_1, datetime(2026, 3, 6, 10, 30), PARIS, _weekdays)
    with pytest.raises(ValueError, match="hours"):
        compute_due("franc", Duration(48, "hours"), datetime(2026, 3, 6, tzinfo=PARIS), PARIS, _weekdays)
    with pytest.raises(ValueError, match="hour_to_hour"):
        compute_due("hour_to_hour", DAYS_7, datetime(2026, 3, 6, tzinfo=PARIS), PARIS, _weekdays)
