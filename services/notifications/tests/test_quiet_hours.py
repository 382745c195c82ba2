"""Quiet hours in the recipient's zone, and when an urgent reminder may break them."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from refuge_notifications.domain.quiet_hours import QuietHours, UrgentOverride, is_urgent, sms_send_time

PARIS = ZoneInfo("Europe/Paris")
MAYOTTE = ZoneInfo("Indian/Mayotte")
NEW_YORK = ZoneInfo("America/New_York")
QUIET = QuietHours()


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        (time(20, 59), False),
        (time(21, 0), True),
        (time(23, 59), True),
        (time(0, 0), True),
        (time(3, 0), True),
        (time(7, 59), True),
        (time(8, 0), False),
        (time(12, 0), False),
    ],
)
def test_default_quiet_hours_are_21_to_8(local: time, quiet: bool) -> None:
    assert QUIET.contains(local) is quiet


def test_quiet_hours_within_one_day_and_none() -> None:
    assert QuietHours(time(12), time(14)).contains(time(13))
    assert not QuietHours(time(12), time(14)).contains(time(14))
    assert not QuietHours(time(8), time(8)).contains(time(3))


def _send(now: datetime, zone: ZoneInfo = PARIS, **options: object) -> datetime | None:
    defaults: dict[str, object] = {"due": now + timedelta(days=10), "urgent": False}
    defaults.update(options)
    override = defaults.pop("override", UrgentOverride.BEFORE_DUE)
    return sms_send_time(now, zone, QUIET, override=override, **defaults)  # type: ignore[arg-type]


def test_daytime_is_sent_now() -> None:
    assert _send(datetime(2026, 4, 7, 10, 0, tzinfo=PARIS)) is None


def test_late_evening_and_night_are_deferred_to_8_local() -> None:
    assert _send(datetime(2026, 4, 7, 22, 30, tzinfo=PARIS)) == datetime(2026, 4, 8, 8, 0, tzinfo=PARIS)
    assert _send(datetime(2026, 4, 8, 3, 0, tzinfo=PARIS)) == datetime(2026, 4, 8, 8, 0, tzinfo=PARIS)


def test_the_recipients_zone_decides_not_the_servers() -> None:
    # 20:30 in Paris is 22:30 in Mayotte: quiet there
    now = datetime(2026, 4, 7, 20, 30, tzinfo=PARIS)
    assert _send(now, PARIS) is None
    assert _send(now, MAYOTTE) == datetime(2026, 4, 8, 8, 0, tzinfo=MAYOTTE)
    # 03:00 in Paris is 21:00 in New York
    assert _send(datetime(2026, 4, 8, 3, 0, tzinfo=PARIS), NEW_YORK) == datetime(
        2026, 4, 8, 8, 0, tzinfo=NEW_YORK
    )


def test_the_night_of_a_clock_change_still_ends_at_8_local() -> None:
    # 29 March 2026: Paris goes from 02:00 to 03:00; 08:00 local is 06:00 UTC
    deferred = _send(datetime(2026, 3, 29, 1, 30, tzinfo=PARIS))
    assert deferred == datetime(2026, 3, 29, 8, 0, tzinfo=PARIS)
    assert deferred is not None and deferred.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    ("offset", "due_in", "urgent"),
    [
        ("P7D", timedelta(days=7), False),
        ("P2D", timedelta(days=4), False),
        ("P1D", timedelta(days=1), True),  # due within 72 hours
        ("PT24H", timedelta(hours=24), True),  # a 48-hour window's offsets are in hours
        ("PT4H", timedelta(hours=4), True),
        ("PT30M", timedelta(minutes=30), True),
        (None, timedelta(hours=71), True),
        (None, timedelta(hours=73), False),
    ],
)
def test_urgency(offset: str | None, due_in: timedelta, urgent: bool) -> None:
    now = datetime(2026, 4, 7, 12, 0, tzinfo=PARIS)
    assert is_urgent(offset, now + due_in, now) is urgent


def test_an_urgent_reminder_waits_for_the_morning_when_the_morning_is_still_in_time() -> None:
    now = datetime(2026, 4, 7, 23, 0, tzinfo=PARIS)
    due = datetime(2026, 4, 8, 18, 0, tzinfo=PARIS)
    assert _send(now, due=due, urgent=True) == datetime(2026, 4, 8, 8, 0, tzinfo=PARIS)


def test_an_urgent_reminder_goes_at_night_only_if_the_morning_would_be_too_late() -> None:
    now = datetime(2026, 4, 7, 23, 0, tzinfo=PARIS)
    due = datetime(2026, 4, 8, 5, 0, tzinfo=PARIS)  # a 48-hour detention appeal ending at 5 a.m.
    assert _send(now, due=due, urgent=True) is None
    assert _send(now, due=due, urgent=True, override=UrgentOverride.NEVER) == datetime(
        2026, 4, 8, 8, 0, tzinfo=PARIS
    )
    assert _send(now, due=due + timedelta(days=1), urgent=True, override=UrgentOverride.ALWAYS) is None
    # not urgent: never at night
    assert _send(now, due=due, urgent=False) == datetime(2026, 4, 8, 8, 0, tzinfo=PARIS)
