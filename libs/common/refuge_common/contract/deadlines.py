"""``refuge.deadlines.v1``: legal deadlines and reminders, emitted by the deadline engine.

Every event is keyed by ``deadline_id`` (``reminder.due`` included), so a deadline's
life and its reminders are read in order.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field

from refuge_common.contract import topics
from refuge_common.contract.base import EventData, event_type
from refuge_common.contract.vocabulary import (
    DeadlineCancelReason,
    DeadlinePurpose,
    IsoDuration,
    Jurisdiction,
    Timezone,
)

_DUE = (
    "last instant at which the act is still in time, with the local offset: 23:59:59 local "
    "on the last day for delays in days or months, the exact instant for delays in hours"
)


class _DeadlineState(EventData):
    deadline_id: UUID
    case_id: UUID
    office_id: UUID | None = None
    purpose: DeadlinePurpose
    rule: str = Field(min_length=1, description="id of the rule in its rule pack")
    legal_basis: str = Field(min_length=1, description="the text that sets the delay")
    due: AwareDatetime = Field(description=_DUE)
    timezone: Timezone
    alternative: str | None = Field(
        default=None,
        description="the later date another reading of the law gives, and why "
        "(the engine keeps the earliest defensible date)",
    )
    jurisdiction: Jurisdiction | None = None
    caseworker_id: UUID | None = None
    person_id: UUID | None = None
    trigger_event_id: str | None = Field(
        default=None, description="id of the case event the deadline was computed from"
    )


@event_type("org.refuge.deadline.computed.v1", topic=topics.DEADLINES, subject="deadline_id")
class DeadlineComputed(_DeadlineState):
    """Emitted when a fact of a case gives rise to a new legal deadline."""


@event_type("org.refuge.deadline.updated.v1", topic=topics.DEADLINES, subject="deadline_id")
class DeadlineUpdated(_DeadlineState):
    """Emitted when a later fact or a corrected rule moves a deadline; full state."""

    previous_due: AwareDatetime | None = None


@event_type("org.refuge.deadline.met.v1", topic=topics.DEADLINES, subject="deadline_id")
class DeadlineMet(EventData):
    """Emitted when the act the deadline is about was done in time."""

    deadline_id: UUID
    case_id: UUID
    met_at: AwareDatetime = Field(description="when the act was done, e.g. the filing")
    purpose: DeadlinePurpose | None = None
    trigger_event_id: str | None = Field(default=None, description="id of the case event that met it")


@event_type("org.refuge.deadline.missed.v1", topic=topics.DEADLINES, subject="deadline_id")
class DeadlineMissed(EventData):
    """Emitted when the due instant passed with the deadline neither met nor cancelled."""

    deadline_id: UUID
    case_id: UUID
    due: AwareDatetime = Field(description="the instant that passed")
    purpose: DeadlinePurpose | None = None


@event_type("org.refuge.deadline.cancelled.v1", topic=topics.DEADLINES, subject="deadline_id")
class DeadlineCancelled(EventData):
    """Emitted when a deadline no longer applies; its pending reminders are dropped."""

    deadline_id: UUID
    case_id: UUID
    reason: DeadlineCancelReason
    purpose: DeadlinePurpose | None = None
    superseded_by: UUID | None = Field(
        default=None, description="deadline_id of the deadline that replaces it"
    )


@event_type("org.refuge.reminder.due.v1", topic=topics.DEADLINES, subject="deadline_id")
class ReminderDue(EventData):
    """Emitted when a reminder timer fires, ``offset`` before the deadline is due."""

    deadline_id: UUID
    reminder_id: UUID
    case_id: UUID
    office_id: UUID | None = None
    caseworker_id: UUID | None = Field(default=None, description="staff_id to remind")
    person_id: UUID | None = Field(default=None, description="beneficiary to remind")
    purpose: DeadlinePurpose
    due: AwareDatetime = Field(description=_DUE)
    timezone: Timezone
    remind_at: AwareDatetime = Field(description="when the timer was set to fire")
    offset: IsoDuration = Field(description="how long before due the reminder fires, e.g. P7D")
