"""When an SMS may go out in the recipient's zone: quiet hours and urgency. Pure.

No SMS between ``start`` and ``end`` local time (21:00-08:00 by default): a message at
3 a.m. in a shelter dormitory or a detention centre wakes people and frightens them. One
that falls in quiet hours is deferred to ``end`` local time.

An *urgent* reminder (the deadline is close: its offset is counted in hours, as for the
48-hour detention appeal, or the deadline is less than 72 hours away) may go out during
quiet hours, according to ``UrgentOverride``:

- ``never``: it waits like any other;
- ``before_due`` (the default): it goes out at once only when waiting for the end of quiet
  hours would bring it after the deadline. A reminder after the deadline helps nobody; one
  that can still arrive in time in the morning waits for the morning;
- ``always``: urgent reminders ignore quiet hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

URGENT_WITHIN = timedelta(hours=72)
_HOURS_OFFSET = re.compile(r"^PT\d+[HMS]")


class UrgentOverride(StrEnum):
    NEVER = "never"
    BEFORE_DUE = "before_due"
    ALWAYS = "always"


@dataclass(frozen=True)
class QuietHours:
    start: time = time(21, 0)
    end: time = time(8, 0)

    def contains(self, local: time) -> bool:
        """True when the local wall-clock time ``local`` is in quiet hours."""

        local = local.replace(tzinfo=None)
        if self.start == self.end:  # no quiet hours
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # over midnight

    def end_after(self, instant: datetime, zone: ZoneInfo) -> datetime:
        """The first end of quiet hours (local ``end``) after ``instant``, as an aware datetime."""

        local = instant.astimezone(zone)
        candidate = datetime.combine(local.date(), self.end, tzinfo=zone)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=zone)
        return candidate


def is_urgent(offset: str | None, due: datetime, now: datetime) -> bool:
    """The reminder's offset is counted in hours (a short window), or the deadline is near."""

    return bool(offset and _HOURS_OFFSET.match(offset)) or due - now < URGENT_WITHIN


def sms_send_time(
    now: datetime,
    zone: ZoneInfo,
    quiet: QuietHours,
    *,
    due: datetime | None,
    urgent: bool,
    override: UrgentOverride,
) -> datetime | None:
    """None to send now, or the instant to defer the SMS to."""

    if not quiet.contains(now.astimezone(zone).time()):
        return None
    morning = quiet.end_after(now, zone)
    if urgent and override is UrgentOverride.ALWAYS:
        return None
    if urgent and override is UrgentOverride.BEFORE_DUE and due is not None and morning >= due:
        return None
    return morning
