"""When to remind: a pure plan from a due instant, the offsets and the present."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class PlannedReminder:
    remind_at: datetime
    offset: timedelta


def plan_reminders(due: datetime, offsets: Sequence[timedelta], now: datetime) -> list[PlannedReminder]:
    """One reminder per offset still ahead; those already past collapse into one now.

    A deadline learnt late (the decision was recorded days after notification) must
    still be announced at once rather than never, but only once, not once per
    missed offset. Nothing is planned for a deadline that has already passed.
    """

    if due <= now:
        return []
    ahead = sorted({o for o in offsets if due - o > now}, reverse=True)
    plan = [PlannedReminder(due - offset, offset) for offset in ahead]
    past = [o for o in offsets if due - o <= now]
    if past:
        plan.insert(0, PlannedReminder(now, max(due - now, timedelta(0))))
    return plan


@dataclass(frozen=True)
class ReminderPolicy:
    """Which reminders a deadline gets.

    Long windows get ``offsets`` before the due instant plus one on the morning of the
    last day at ``morning_hour`` in the office's local time; windows no longer than
    ``short_window`` when they are learnt (a 48-hour detention appeal) get reminders
    in hours.
    """

    offsets: tuple[timedelta, ...] = (timedelta(days=7), timedelta(days=2), timedelta(days=1))
    short_window_offsets: tuple[timedelta, ...] = (
        timedelta(hours=24),
        timedelta(hours=12),
        timedelta(hours=4),
        timedelta(hours=1),
    )
    short_window: timedelta = timedelta(hours=72)
    morning_hour: int | None = 8

    def plan(self, due: datetime, now: datetime, local_zone: ZoneInfo) -> list[PlannedReminder]:
        if due - now <= self.short_window:
            return plan_reminders(due, self.short_window_offsets, now)
        offsets = list(self.offsets)
        if self.morning_hour is not None:
            morning = datetime.combine(due.astimezone(local_zone).date(), time(self.morning_hour), local_zone)
            if morning < due:
                offsets.append(due - morning)
        return plan_reminders(due, offsets, now)


def iso_duration(delta: timedelta) -> str:
    """ISO 8601 duration of a non-negative timedelta, e.g. P7D, PT16H, P1DT2H30M.

    Written in the RFC 3339 appendix A grammar the contract uses, which allows no gap
    between time units: 6 hours and 51 seconds is PT6H0M51S, not PT6H51S.
    """

    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    units = [(hours, "H"), (minutes, "M"), (seconds, "S")]
    present = [index for index, (value, _unit) in enumerate(units) if value]
    time = ""
    if present:
        time = "T" + "".join(f"{value}{unit}" for value, unit in units[present[0] : present[-1] + 1])
    text = "P" + (f"{days}D" if days else "") + time
    return text if text != "P" else "PT0S"
