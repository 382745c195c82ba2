"""The rules the facts of a case obey. Pure: the service layer passes in the state and "now".

Two kinds of refusal: :class:`InvalidField` (422) for a value that cannot be right whatever
the case, :class:`FactConflict` (409) for a fact the case's current state does not allow.
Both name a field and never quote the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from refuge_common.contract.base import EventData
from refuge_common.contract.cases import CaseConsentRecorded
from refuge_common.contract.vocabulary import CaseOutcome, CaseType, ConsentPurpose
from refuge_intake.domain.normalise import InvalidField


class FactConflict(ValueError):
    """A fact the case's state refuses (closed case, hearing already held...); names the field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class HearingStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    HELD = "held"


class HearingChange(StrEnum):
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    HOLD = "hold"


@dataclass(frozen=True)
class Consent:
    """The consent currently on record for one purpose of a case."""

    given: bool
    recorded_at: datetime


_FURTHEST_AHEAD_OF_UTC = timedelta(hours=14)

# The informed consent an assisted voluntary return needs (the contract's name for it).
RETURN_CONSENT = ConsentPurpose.ASSISTED_RETURN


def accepts_on_closed_case(data: EventData) -> bool:
    """Whether a closed case still takes this fact.

    A closed case takes no new facts: deadlines cancels every deadline of a closed case,
    so a decision or hearing recorded there would remind no one; new proceedings get a
    new case. The exception is the law's: consent can be withdrawn at any time, as easily
    as it was given (GDPR art. 7(3)), and notifications must learn of it to stop messages.
    """

    return isinstance(data, CaseConsentRecorded) and not data.given


CLOSED_CASE = "the case is closed; only a consent withdrawal can still be recorded on it"


def refuse_if_closed(status: str, data: EventData) -> None:
    if status == CaseStatus.CLOSED and not accepts_on_closed_case(data):
        raise FactConflict("case_id", CLOSED_CASE)


def not_in_future(field: str, value: datetime | date, now: datetime) -> None:
    """Something that happened (a notification, a filing, an arrival) cannot be later than now."""

    # A date is local to wherever it happened: it is in the future only once it is
    # later than today anywhere on Earth (UTC+14), not merely than today in UTC.
    future = value > now if isinstance(value, datetime) else value > (now + _FURTHEST_AHEAD_OF_UTC).date()
    if future:
        raise InvalidField(field, "is in the future; record it once it has happened")


def in_future(field: str, value: datetime, now: datetime) -> None:
    """A hearing set for a past instant is a typing error: it would plan a deadline already missed."""

    if value <= now:
        raise InvalidField(field, "is in the past; a hearing is scheduled for a future instant")


def not_before(field: str, value: datetime, earliest: datetime, what: str) -> None:
    if value < earliest:
        raise InvalidField(field, f"is before {what}")


def hearing_after(current: HearingStatus, change: HearingChange) -> HearingStatus:
    """The state a hearing moves to, or a conflict.

    A cancelled hearing may be rescheduled (it gets a date again; the deadline engine
    plans it anew); a held hearing is over, and a further one is a new hearing.
    """

    if current is HearingStatus.HELD:
        raise FactConflict("hearing_id", "the hearing was held; schedule a new hearing instead")
    if change is HearingChange.RESCHEDULE:
        return HearingStatus.SCHEDULED
    if current is HearingStatus.CANCELLED:
        raise FactConflict("hearing_id", "the hearing was cancelled; reschedule it first")
    return HearingStatus.CANCELLED if change is HearingChange.CANCEL else HearingStatus.HELD


def check_detention_start(detained_since: datetime | None) -> None:
    if detained_since is not None:
        raise FactConflict(
            "started_at",
            "the person is already recorded in detention; record detention_ended "
            "(reason transferred) before a new placement",
        )


def check_detention_end(detained_since: datetime | None, ended_at: datetime) -> None:
    if detained_since is None:
        raise FactConflict("ended_at", "no detention is recorded as ongoing on this case")
    not_before("ended_at", ended_at, detained_since, "the start of the detention")


def check_consent_order(previous: Consent | None, recorded_at: datetime) -> None:
    """The consent on record is the last one recorded: one dated before it would be
    silently outranked, so it is refused (a withdrawal must never be lost that way)."""

    if previous is not None and recorded_at < previous.recorded_at:
        raise InvalidField("recorded_at", "is earlier than the consent already recorded for this purpose")


def check_transfer(current_office: UUID, target_office: UUID) -> None:
    if current_office == target_office:
        raise InvalidField("office_id", "the case is already held by this office")


def check_departure(case_type: str, outcome: CaseOutcome, consent: Consent | None) -> None:
    """An assisted voluntary return departs only with the person's informed consent, still given.

    The v1 contract has no departure fact: an assisted return ends with ``case.closed``,
    outcome ``voluntary_return``. A forced removal (outcome ``removed``) is not the NGO's
    doing and is not held to this rule.
    """

    if case_type != CaseType.ASSISTED_VOLUNTARY_RETURN or outcome is not CaseOutcome.VOLUNTARY_RETURN:
        return
    if consent is None:
        raise FactConflict(
            "consent",
            "an assisted voluntary return needs the person's informed consent: record "
            f"consent_recorded with purpose {RETURN_CONSENT.value} and given true first",
        )
    if not consent.given:
        raise FactConflict(
            "consent",
            f"the person withdrew their consent ({RETURN_CONSENT.value}); an assisted voluntary "
            "return cannot proceed without it",
        )
