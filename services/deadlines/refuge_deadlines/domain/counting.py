"""Pure counting functions: from a notification instant and a delay to the last instant in time.

All date arithmetic is on the *local date* of the notification in the deadline's time zone.
``due`` is 23:59:59 local on the last day for delays in days, months or years, and the exact
instant for delays in hours (DESIGN.md, "Deadline rules").

``franc`` (French administrative delays, the default unless a text says otherwise)
    The day of notification does not count; the delay starts the next day (the *first day*),
    and the act is in time until the end of ``notification date + 1 day + delay``: the day
    that closes the delay does not count either.

    Days: last day = notification + 1 + N days. Worked example, 7 days franc, notified
    Monday 2 March 2026: first day Tuesday 3 March; the seven days are 3 to 9 March; in time
    until Tuesday 10 March 2026 23:59:59 Europe/Paris.

    Months (and years, as 12 months): DESIGN.md's reading (A) ends on the day of the month
    bearing the same quantième as the first day, or the last day of the month when it does
    not exist: notified 6 March, first day 7 March, one month: 7 April. The Code de procédure
    civile's reading (B, art. 641 then one franc day) takes the quantième of the notification
    day (last day of the month when it does not exist), then adds the franc day: 6 April + 1 =
    7 April. They differ only at month ends, and either may be the earlier one:

    * notified 30 January 2025: (A) first day 31 January, no 31 February, 28 February;
      (B) no 30 February, 28 February + 1 = 1 March. Earliest: 28 February.
    * notified 28 February 2026: (A) first day 1 March, 1 April; (B) 28 March + 1 = 29 March.
      Earliest: 29 March (a Sunday, so Monday 30 March after rollover).

    We take the earlier of the two, as DESIGN.md asks ("where readings differ at month ends,
    take the earliest"); so the result is never later than reading (A).

``non_franc`` (French delays counted de date à date, CPC art. 640 to 642)
    The day of notification does not count and the delay ends at the end of its last day:
    days: notification + N (7 days from Monday 2 March 2026: Monday 9 March); months: the
    notification's quantième N months later, or the last day of that month.

``franc`` and ``non_franc`` last days falling on a Saturday, Sunday or public holiday of the
jurisdiction move to the next working day.

``calendar_us`` (8 CFR 1003.38(b)-(c), FRAP 26(a))
    Calendar days from the decision date (the day of the decision excluded, the last day
    included): last day = decision date + N, moved to the next business day when it is a
    Saturday, Sunday or federal holiday.

``calendar``
    Like ``calendar_us`` but never moved (for texts that do not provide for rollover).

``hour_to_hour``
    N hours of absolute time from the notification instant, to the minute; never moved. A
    48-hour window across the spring clock change is still 48 real hours: notified
    2026-03-28T10:00+01:00, due 2026-03-30T11:00+02:00.

Backward countings (a delay that ends N days *before* an anchor date, e.g. R.431-5: apply
between the 120th and the 60th day before the permit's expiry). The anchor is the date itself
(the permit's last day of validity, ``expires_on``), and the day is ``anchor - N`` (the 60th
day before 31 December is 1 November); months go back to the same quantième (or the month's
last day).

``backward``
    A last day to act. ``anchor - N``, due 23:59:59 local; a Saturday, Sunday or public holiday
    moves to the *previous* working day: moving a backward delay later would shorten the time
    left before the anchor, so the earliest defensible day is the one before (backward delays,
    "délais à rebours", are not extended). Closing 60 days before expiry on 30 June 2026:
    1 May 2026, Labour Day (a Friday), so Thursday 30 April 23:59:59.

``backward_calendar``
    The same day, never moved (for the reading that the act can be done on any day, e.g.
    online).

``backward_opening``
    The moment something becomes possible: ``anchor - N`` at the start of the local day
    (00:00, or the first instant of the day where a clock change skips midnight); never moved.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .rules import BACKWARD_COUNTINGS, Counting, Duration

IsWorkingDay = Callable[[date], bool]
END_OF_DAY = time(23, 59, 59)
MAX_ROLL_DAYS = 14


def add_months(day: date, months: int) -> date:
    """The same day of the month ``months`` later, or that month's last day if it is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _months(duration: Duration) -> int:
    if duration.unit == "months":
        return duration.amount
    if duration.unit == "years":
        return duration.amount * 12
    raise ValueError(f"duration: {duration.unit!r} is not a delay in months or years")


def _days(duration: Duration) -> timedelta | None:
    if duration.unit == "days":
        return timedelta(days=duration.amount)
    if duration.unit == "hours":
        raise ValueError("duration: a delay in hours has no last day; count it hour_to_hour")
    return None


def franc_last_day_same_quantieme(notified: date, duration: Duration) -> date:
    """Reading (A): the first day's quantième (DESIGN.md); days: notification + 1 + N."""
    first_day = notified + timedelta(days=1)
    days = _days(duration)
    return first_day + days if days is not None else add_months(first_day, _months(duration))


def franc_last_day_cpc(notified: date, duration: Duration) -> date:
    """Reading (B): the notification's quantième (CPC art. 641), then one franc day."""
    days = _days(duration)
    end = notified + days if days is not None else add_months(notified, _months(duration))
    return end + timedelta(days=1)


def franc_last_day(notified: date, duration: Duration) -> date:
    """Last day of a franc delay, before rollover: the earlier of readings (A) and (B)."""
    return min(
        franc_last_day_same_quantieme(notified, duration),
        franc_last_day_cpc(notified, duration),
    )


def non_franc_last_day(notified: date, duration: Duration) -> date:
    """Last day of a delay counted de date à date, before rollover."""
    days = _days(duration)
    return notified + days if days is not None else add_months(notified, _months(duration))


def calendar_last_day(decided: date, duration: Duration) -> date:
    """Last day of a delay in calendar days (or months) from the decision date."""
    return non_franc_last_day(decided, duration)


def backward_day(anchor: date, duration: Duration) -> date:
    """``anchor`` minus the delay: N days, or N months back to the same quantième."""
    days = _days(duration)
    return anchor - days if days is not None else add_months(anchor, -_months(duration))


def roll_back(day: date, is_working_day: IsWorkingDay) -> date:
    """``day`` if it is a working day, else the working day before it."""
    for offset in range(MAX_ROLL_DAYS + 1):
        candidate = day - timedelta(days=offset)
        if is_working_day(candidate):
            return candidate
    raise AssertionError(f"no working day within {MAX_ROLL_DAYS} days before {day}")


def roll_forward(day: date, is_working_day: IsWorkingDay) -> date:
    """``day`` if it is a working day, else the next working day."""
    for offset in range(MAX_ROLL_DAYS + 1):
        candidate = day + timedelta(days=offset)
        if is_working_day(candidate):
            return candidate
    raise AssertionError(f"no working day within {MAX_ROLL_DAYS} days of {day}")


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """23:59:59 local on ``day``."""
    return datetime.combine(day, END_OF_DAY, tzinfo=tz)


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``tz`` (00:00, or later where midnight does not exist)."""
    naive_midnight = datetime.combine(day, time(0))
    instant = naive_midnight.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)
    if instant.date() < day:  # a gap at midnight read with the earlier offset: past the gap
        instant = naive_midnight.replace(tzinfo=tz, fold=1).astimezone(UTC).astimezone(tz)
    return instant


def hours_after(instant: datetime, hours: int, tz: ZoneInfo) -> datetime:
    """``hours`` hours of absolute time after ``instant``, shown in ``tz``."""
    return (instant.astimezone(UTC) + timedelta(hours=hours)).astimezone(tz)


def last_day(counting: Counting, duration: Duration, notified: date) -> date:
    """The last day of a date-counted delay, before any rollover."""
    if counting == "franc":
        return franc_last_day(notified, duration)
    if counting == "non_franc":
        return non_franc_last_day(notified, duration)
    if counting in ("calendar_us", "calendar"):
        return calendar_last_day(notified, duration)
    if counting in BACKWARD_COUNTINGS:
        return backward_day(notified, duration)
    raise ValueError(f"counting: {counting!r} has no last day")


def due_from_date(
    counting: Counting,
    duration: Duration,
    anchor: date,
    tz: ZoneInfo,
    is_working_day: IsWorkingDay,
) -> datetime:
    """The due instant of a date-counted delay from a local ``anchor`` date, aware, in ``tz``.

    Forward countings other than ``calendar`` move a non-working last day to the next working
    day, ``backward`` to the previous one; ``backward_opening`` is due at the start of its day.
    """
    day = last_day(counting, duration, anchor)
    if counting in ("franc", "non_franc", "calendar_us"):
        day = roll_forward(day, is_working_day)
    elif counting == "backward":
        day = roll_back(day, is_working_day)
    if counting == "backward_opening":
        return start_of_day(day, tz)
    return end_of_day(day, tz)


def compute_due(
    counting: Counting,
    duration: Duration,
    notified_at: datetime,
    tz: ZoneInfo,
    is_working_day: IsWorkingDay,
) -> datetime:
    """The last instant at which the act is in time, aware, in ``tz``."""
    if notified_at.utcoffset() is None:
        raise ValueError("notified_at: must be timezone-aware")
    if counting == "hour_to_hour":
        if duration.unit != "hours":
            raise ValueError(f"duration: hour_to_hour counts hours, not {duration.unit}")
        return hours_after(notified_at, duration.amount, tz)
    return due_from_date(counting, duration, notified_at.astimezone(tz).date(), tz, is_working_day)
