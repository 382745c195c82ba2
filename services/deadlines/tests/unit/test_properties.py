"""Property tests of the counting rules and the engine (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from refuge_deadlines.domain.calendars import JURISDICTIONS, is_working_day
from refuge_deadlines.domain.counting import (
    compute_due,
    franc_last_day,
    franc_last_day_cpc,
    franc_last_day_same_quantieme,
    roll_forward,
)
from refuge_deadlines.domain.engine import Decision, compute_deadlines
from refuge_deadlines.domain.packs import load_pack
from refuge_deadlines.domain.rules import Counting, Duration

SETTINGS = settings(max_examples=300, deadline=None, database=None)
CODES = sorted(JURISDICTIONS)
ZONES = sorted({j.timezone for j in JURISDICTIONS.values()})

instants = st.datetimes(
    min_value=datetime(2024, 7, 15),
    max_value=datetime(2040, 12, 31),
    timezones=st.sampled_from([ZoneInfo(z) for z in ZONES] + [UTC]),
    allow_imaginary=False,
)
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2040, 12, 31))
date_durations = (
    st.builds(Duration, st.integers(min_value=1, max_value=120), st.just("days"))
    | st.builds(Duration, st.integers(min_value=1, max_value=24), st.just("months"))
    | st.builds(Duration, st.integers(min_value=1, max_value=3), st.just("years"))
)
hour_durations = st.builds(Duration, st.integers(min_value=1, max_value=240), st.just("hours"))
date_countings = st.sampled_from(["franc", "non_franc", "calendar_us", "calendar"])


def _due(code: str, zone: str, counting: Counting, duration: Duration, at: datetime) -> datetime:
    return compute_due(counting, duration, at, ZoneInfo(zone), partial(is_working_day, code))


@st.composite
def decisions(draw: st.DrawFn) -> Decision:
    code = draw(st.sampled_from(CODES))
    pack = load_pack(JURISDICTIONS[code].pack)
    kind = pack.decisions[draw(st.sampled_from(sorted(pack.decisions)))]
    regime = draw(st.sampled_from(sorted(kind.regimes))) if kind.regime_required else None
    return Decision(code, kind.name, regime, draw(instants), None)


@SETTINGS
@given(decisions())
def test_due_is_never_before_notification(decision: Decision) -> None:
    for deadline in compute_deadlines(decision):
        assert deadline.due > decision.notified_at
        assert deadline.due.utcoffset() is not None
        assert str(deadline.due.tzinfo) == deadline.timezone


@SETTINGS
@given(st.sampled_from(CODES), st.sampled_from(["franc", "non_franc"]), date_durations, instants)
def test_french_day_and_month_deadlines_end_on_a_working_day_at_23_59_59(
    code: str, counting: Counting, duration: Duration, at: datetime
) -> None:
    zone = JURISDICTIONS[code].timezone
    due = _due(code, zone, counting, duration, at)
    assert due.timetz().replace(tzinfo=None) == time(23, 59, 59)
    assert str(due.tzinfo) == zone
    assert is_working_day(code, due.date())
    assert due.date() > at.astimezone(ZoneInfo(zone)).date()


@SETTINGS
@given(st.sampled_from(CODES), st.sampled_from(ZONES), hour_durations, instants)
def test_hour_delays_are_exactly_n_hours_of_absolute_time(
    code: str, zone: str, duration: Duration, at: datetime
) -> None:
    due = _due(code, zone, "hour_to_hour", duration, at)
    # Compare in UTC: subtracting two datetimes sharing one tzinfo ignores the offsets.
    assert due.astimezone(UTC) - at.astimezone(UTC) == timedelta(hours=duration.amount)
    assert due.minute == at.astimezone(ZoneInfo(zone)).minute
    assert due.second == at.second
    assert str(due.tzinfo) == zone


@SETTINGS
@given(
    st.sampled_from(CODES),
    date_countings | st.just("hour_to_hour"),
    date_durations,
    hour_durations,
    instants,
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
)
def test_a_later_notification_never_gives_an_earlier_due(
    code: str,
    counting: Counting,
    date_duration: Duration,
    hour_duration: Duration,
    at: datetime,
    delta: timedelta,
) -> None:
    duration = hour_duration if counting == "hour_to_hour" else date_duration
    zone = JURISDICTIONS[code].timezone
    later = at + delta
    assert _due(code, zone, counting, duration, at) <= _due(code, zone, counting, duration, later)


@SETTINGS
@given(decisions(), st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)))
def test_engine_is_monotonic_per_rule(decision: Decision, delta: timedelta) -> None:
    later = Decision(
        decision.jurisdiction,
        decision.decision,
        decision.regime,
        decision.notified_at + delta,
        decision.timezone,
    )
    before = {d.rule: d.due for d in compute_deadlines(decision)}
    after = {d.rule: d.due for d in compute_deadlines(later)}
    for rule, due in before.items():
        if rule in after:
            assert due <= after[rule]


@SETTINGS
@given(days, st.integers(min_value=1, max_value=36), st.sampled_from(["months", "years"]))
def test_month_rule_is_never_later_than_either_reading(notified: date, n: int, unit: str) -> None:
    duration = Duration(n if unit == "months" else 1 + n % 3, unit)  # type: ignore[arg-type]
    chosen = franc_last_day(notified, duration)
    assert chosen <= franc_last_day_same_quantieme(notified, duration)
    assert chosen <= franc_last_day_cpc(notified, duration)
    assert chosen in (
        franc_last_day_same_quantieme(notified, duration),
        franc_last_day_cpc(notified, duration),
    )
    # After rollover too: never later than the rolled "same quantième" reading.
    working = partial(is_working_day, "FR")
    assert roll_forward(chosen, working) <= roll_forward(
        franc_last_day_same_quantieme(notified, duration), working
    )


@SETTINGS
@given(days, st.integers(min_value=1, max_value=120))
def test_franc_days_are_notification_plus_one_plus_n(notified: date, n: int) -> None:
    assert franc_last_day(notified, Duration(n, "days")) == notified + timedelta(days=n + 1)


@SETTINGS
@given(st.sampled_from(CODES), instants, date_durations)
def test_non_franc_is_never_later_than_franc(code: str, at: datetime, duration: Duration) -> None:
    zone = JURISDICTIONS[code].timezone
    assert _due(code, zone, "non_franc", duration, at) <= _due(code, zone, "franc", duration, at)


@SETTINGS
@given(instants, st.integers(min_value=1, max_value=400))
def test_us_calendar_days_end_on_a_business_day_not_before_the_plain_count(at: datetime, n: int) -> None:
    zone = "America/New_York"
    duration = Duration(n, "days")
    plain = _due("US", zone, "calendar", duration, at)
    rolled = _due("US", zone, "calendar_us", duration, at)
    assert plain.date() == at.astimezone(ZoneInfo(zone)).date() + timedelta(days=n)
    assert plain <= rolled
    assert is_working_day("US", rolled.date())
    assert rolled.date() - plain.date() <= timedelta(days=4)
