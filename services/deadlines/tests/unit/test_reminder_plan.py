from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from refuge_common.contract.vocabulary import DURATION_PATTERN
from refuge_deadlines.domain.reminders import iso_duration, plan_reminders

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def test_one_reminder_per_offset_ahead_earliest_first() -> None:
    due = NOW + 10 * DAY
    plan = plan_reminders(due, [DAY, 7 * DAY, 2 * DAY], NOW)
    assert [p.remind_at for p in plan] == [due - 7 * DAY, due - 2 * DAY, due - DAY]
    assert [p.offset for p in plan] == [7 * DAY, 2 * DAY, DAY]


def test_offsets_already_past_collapse_into_one_reminder_now() -> None:
    due = NOW + 3 * DAY
    plan = plan_reminders(due, [7 * DAY, 5 * DAY, 2 * DAY], NOW)
    assert [p.remind_at for p in plan] == [NOW, due - 2 * DAY]
    assert plan[0].offset == 3 * DAY


def test_a_deadline_already_passed_gets_no_reminder() -> None:
    assert plan_reminders(NOW - DAY, [DAY], NOW) == []
    assert plan_reminders(NOW, [DAY], NOW) == []


@given(
    due_in=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=400)),
    offsets=st.lists(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)), max_size=6),
)
def test_reminders_never_fire_after_the_deadline_nor_before_now(
    due_in: timedelta, offsets: list[timedelta]
) -> None:
    due = NOW + due_in
    plan = plan_reminders(due, offsets, NOW)
    assert all(NOW <= p.remind_at <= due for p in plan)
    assert [p.remind_at for p in plan] == sorted(p.remind_at for p in plan)
    assert len({p.remind_at for p in plan}) == len(plan)


def test_iso_durations() -> None:
    assert iso_duration(7 * DAY) == "P7D"
    assert iso_duration(timedelta(hours=16)) == "PT16H"
    assert iso_duration(timedelta(days=1, hours=2, minutes=30)) == "P1DT2H30M"
    assert iso_duration(timedelta(0)) == "PT0S"
    assert iso_duration(timedelta(hours=6, seconds=51)) == "PT6H0M51S"


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)))
def test_every_duration_is_valid_in_the_contract_and_reads_back(delta: timedelta) -> None:
    text = iso_duration(delta)
    assert re.match(DURATION_PATTERN, text), text
    assert TypeAdapter(timedelta).validate_python(text) == timedelta(seconds=int(delta.total_seconds()))
