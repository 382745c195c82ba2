"""``refuge.cases.v1``: the facts of a case, emitted by intake, keyed by case_id.

These are the facts the deadline engine reads. Free text (notes) only ever travels
sealed under the key of the case's person, so erasing the person shreds it too.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import AwareDatetime, Field

from refuge_common.contract import topics
from refuge_common.contract.base import EventData, event_type
from refuge_common.contract.sealed import Sealed
from refuge_common.contract.vocabulary import (
    CaseOutcome,
    CaseType,
    ConsentPurpose,
    ContactChannel,
    ContactOutcome,
    Decision,
    DetentionEndReason,
    DetentionKind,
    Jurisdiction,
    Regime,
    Timezone,
)

_NOTES = "free-text notes, sealed under the key of the case's person"
_TZ = "IANA zone of the instants, when it differs from the office's"


@event_type("org.refuge.case.opened.v1", topic=topics.CASES, subject="case_id")
class CaseOpened(EventData):
    """Emitted when a caseworker opens a case for a beneficiary in an office."""

    case_id: UUID
    organisation_id: UUID
    office_id: UUID
    case_type: CaseType
    jurisdiction: Jurisdiction
    channel: ContactChannel = Field(description="how the beneficiary first reached the office")
    opened_at: AwareDatetime
    person_id: UUID | None = Field(default=None, description="the beneficiary, once registered")
    caseworker_id: UUID | None = Field(default=None, description="staff_id of the caseworker")


@event_type("org.refuge.case.decision_notified.v1", topic=topics.CASES, subject="case_id")
class CaseDecisionNotified(EventData):
    """Emitted when the case records that a decision was notified; it starts delays."""

    case_id: UUID
    jurisdiction: Jurisdiction
    decision: Decision
    regime: Regime | None = Field(
        default=None, description="FR removal decisions: the situation at notification"
    )
    notified_at: AwareDatetime
    timezone: Timezone | None = Field(
        default=None, description="defaults from the jurisdiction or the office"
    )
    decided_on: date | None = Field(
        default=None,
        description="date of the decision when it differs from notification "
        "(US delays run from the decision, e.g. 8 CFR 1003.38(b))",
    )


class _Hearing(EventData):
    case_id: UUID
    hearing_id: UUID = Field(description="identifies the hearing across its reschedulings")


@event_type("org.refuge.case.hearing_scheduled.v1", topic=topics.CASES, subject="case_id")
class CaseHearingScheduled(_Hearing):
    """Emitted when a hearing (court, tribunal, immigration judge) is set for the case."""

    scheduled_at: AwareDatetime
    timezone: Timezone | None = Field(default=None, description=_TZ)
    court: str | None = Field(default=None, description="the court or tribunal (not personal)")


@event_type("org.refuge.case.hearing_rescheduled.v1", topic=topics.CASES, subject="case_id")
class CaseHearingRescheduled(_Hearing):
    """Emitted when a scheduled hearing moves to another instant."""

    scheduled_at: AwareDatetime
    previous_scheduled_at: AwareDatetime | None = None
    timezone: Timezone | None = Field(default=None, description=_TZ)


@event_type("org.refuge.case.hearing_cancelled.v1", topic=topics.CASES, subject="case_id")
class CaseHearingCancelled(_Hearing):
    """Emitted when a scheduled hearing is cancelled without a new date."""


@event_type("org.refuge.case.hearing_held.v1", topic=topics.CASES, subject="case_id")
class CaseHearingHeld(_Hearing):
    """Emitted when a hearing took place."""

    held_at: AwareDatetime | None = None


@event_type("org.refuge.case.appeal_filed.v1", topic=topics.CASES, subject="case_id")
class CaseAppealFiled(EventData):
    """Emitted when an appeal, petition or motion is filed for the case."""

    case_id: UUID
    filed_at: AwareDatetime
    decision: Decision | None = Field(default=None, description="the decision appealed against")
    deadline_id: UUID | None = Field(default=None, description="the deadline this filing meets")
    court: str | None = Field(default=None, description="where it was filed (not personal)")


@event_type("org.refuge.case.detention_started.v1", topic=topics.CASES, subject="case_id")
class CaseDetentionStarted(EventData):
    """Emitted when the beneficiary is placed in administrative detention or in prison."""

    case_id: UUID
    started_at: AwareDatetime
    kind: DetentionKind | None = None
    facility: str | None = Field(default=None, description="the facility's name (not personal)")


@event_type("org.refuge.case.detention_ended.v1", topic=topics.CASES, subject="case_id")
class CaseDetentionEnded(EventData):
    """Emitted when the beneficiary leaves detention or prison."""

    case_id: UUID
    ended_at: AwareDatetime
    reason: DetentionEndReason | None = None


@event_type("org.refuge.case.permit_recorded.v1", topic=topics.CASES, subject="case_id")
class CasePermitRecorded(EventData):
    """Emitted when a residence permit (or receipt) and its expiry are recorded."""

    case_id: UUID
    expires_on: date = Field(description="last day of validity; renewal windows count from it")
    issued_on: date | None = None
    permit_kind: str | None = Field(
        default=None, description="category of permit, e.g. carte_de_sejour_temporaire"
    )
    jurisdiction: Jurisdiction | None = None
    document: Sealed | None = Field(
        default=None, description="document number and details, sealed like notes"
    )


@event_type("org.refuge.case.arrival_recorded.v1", topic=topics.CASES, subject="case_id")
class CaseArrivalRecorded(EventData):
    """Emitted when the date of the beneficiary's last arrival in the country is recorded."""

    case_id: UUID
    arrived_on: date = Field(description="date of the last arrival (US asylum one-year bar)")
    jurisdiction: Jurisdiction | None = None


@event_type("org.refuge.case.contact_logged.v1", topic=topics.CASES, subject="case_id")
class CaseContactLogged(EventData):
    """Emitted when a contact with the beneficiary (call, visit, message) is logged."""

    case_id: UUID
    channel: ContactChannel
    outcome: ContactOutcome
    contacted_at: AwareDatetime
    office_id: UUID | None = None
    staff_id: UUID | None = Field(default=None, description="who handled the contact")
    duration_minutes: int | None = Field(default=None, ge=0)
    notes: Sealed | None = Field(default=None, description=_NOTES)


@event_type("org.refuge.case.interview_held.v1", topic=topics.CASES, subject="case_id")
class CaseInterviewHeld(EventData):
    """Emitted when an interview with an authority (OFPRA, USCIS...) took place."""

    case_id: UUID
    held_at: AwareDatetime
    authority: str | None = Field(default=None, description="e.g. ofpra, uscis (not personal)")
    notes: Sealed | None = Field(default=None, description=_NOTES)


@event_type("org.refuge.case.consent_recorded.v1", topic=topics.CASES, subject="case_id")
class CaseConsentRecorded(EventData):
    """Emitted when the beneficiary gives or withdraws consent for one purpose."""

    case_id: UUID
    purpose: ConsentPurpose
    given: bool = Field(description="true when given, false when withdrawn")
    recorded_at: AwareDatetime
    person_id: UUID | None = Field(default=None, description="the consenting person")


@event_type("org.refuge.case.transferred.v1", topic=topics.CASES, subject="case_id")
class CaseTransferred(EventData):
    """Emitted when a case moves to another office of the same organisation."""

    case_id: UUID
    office_id: UUID = Field(description="the office that now holds the case")
    previous_office_id: UUID | None = None
    caseworker_id: UUID | None = Field(default=None, description="staff_id of the new caseworker")


@event_type("org.refuge.case.closed.v1", topic=topics.CASES, subject="case_id")
class CaseClosed(EventData):
    """Emitted when a case is closed, with its outcome."""

    case_id: UUID
    outcome: CaseOutcome
    closed_at: AwareDatetime
