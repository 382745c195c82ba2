from datetime import timedelta

from pydantic import Field, SecretStr

from refuge_common.settings import PlatformSettings
from refuge_deadlines.domain.reminders import ReminderPolicy


class DeadlinesSettings(PlatformSettings):
    deadlines_port: int = Field(default=8002, description="Deadlines' HTTP port.")
    deadlines_reminder_offsets: list[timedelta] = Field(
        default=[timedelta(days=7), timedelta(days=2), timedelta(days=1)],
        description="How long before a deadline reminders fire: a JSON list of ISO 8601 durations.",
    )
    deadlines_short_window_offsets: list[timedelta] = Field(
        default=[timedelta(hours=24), timedelta(hours=12), timedelta(hours=4), timedelta(hours=1)],
        description="Reminders of a window of at most 72 hours (a 48-hour appeal), before its end.",
    )
    deadlines_morning_reminder_hour: int | None = Field(
        default=8,
        ge=0,
        le=23,
        description="Also remind at this hour, office local time, on the last day (empty: never).",
    )
    deadlines_feed_secret: SecretStr | None = Field(
        default=None,
        description="Signs private iCalendar feed URLs; changing it revokes them all (make run sets one).",
    )
    deadlines_timer_batch_size: int = Field(
        default=1000, ge=1, description="Reminders fired per transaction."
    )
    deadlines_timer_poll_ms: int = Field(
        default=1000, ge=10, description="Longest sleep of the timer worker between checks."
    )

    def reminder_policy(self) -> ReminderPolicy:
        return ReminderPolicy(
            offsets=tuple(self.deadlines_reminder_offsets),
            short_window_offsets=tuple(self.deadlines_short_window_offsets),
            morning_hour=self.deadlines_morning_reminder_hour,
        )
