"""An iCalendar feed of deadlines (RFC 5545, through the icalendar package)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from refuge_common.presentation import case_reference
from refuge_deadlines.adapters.calendar_queries import UpcomingDeadline

LAST_SECOND = time(23, 59, 59)


def feed(name: str, deadlines: Iterable[UpcomingDeadline], *, generated_at: datetime | None = None) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Refuge//deadlines//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    stamp = generated_at or datetime.now(UTC)
    for deadline in deadlines:
        local_due = deadline.due.astimezone(ZoneInfo(deadline.timezone))
        event = Event()
        event.add("uid", f"{deadline.deadline_id}@refuge.deadlines")
        event.add("dtstamp", stamp)
        # A delay in days ends at the end of its last day: shown as that day, all day long.
        # Hearings and delays in hours end at an instant: shown at that instant.
        if local_due.time().replace(microsecond=0) == LAST_SECOND:
            event.add("dtstart", local_due.date())
        else:
            event.add("dtstart", local_due)
            event.add("dtend", local_due)
        event.add(
            "summary", f"{deadline.purpose.replace('_', ' ')} – case {case_reference(deadline.case_id)}"
        )
        event.add("description", f"Rule {deadline.rule}; due {local_due.isoformat()} ({deadline.timezone}).")
        calendar.add_component(event)
    return bytes(calendar.to_ical())
