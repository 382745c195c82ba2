"""Closed vocabularies and constrained strings shared by the v1 event catalogue.

Values are part of the published contract: a value may be added (consumers must
tolerate values they do not know), never removed or renamed. Constraints on the
string types are deliberately lenient: tightening one later is a breaking change.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

JURISDICTION_PATTERN = r"^(FR|US)(-[A-Z0-9]{1,3})?$"

# IANA names such as "UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5".
# Shape only: whether the zone exists depends on each reader's tzdata, and an older
# tzdata on a consumer must not turn a valid event into a dead letter.
TIMEZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$"
LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"

# RFC 3339 appendix A (the grammar JSON Schema's "duration" format refers to),
# written without look-arounds so that pydantic's Rust regex engine accepts it.
_TIME = r"T(?:[0-9]+H(?:[0-9]+M(?:[0-9]+S)?)?|[0-9]+M(?:[0-9]+S)?|[0-9]+S)"
_DATE = rf"(?:[0-9]+D|[0-9]+M(?:[0-9]+D)?|[0-9]+Y(?:[0-9]+M(?:[0-9]+D)?)?)(?:{_TIME})?"
DURATION_PATTERN = rf"^P(?:{_DATE}|{_TIME}|[0-9]+W)$"

Jurisdiction = Annotated[
    str,
    Field(
        pattern=JURISDICTION_PATTERN,
        description="ISO 3166 code, FR or US, optionally with a subdivision (FR-976, US-NY) "
        "that selects the time zone and the holiday calendar",
    ),
]
Timezone = Annotated[str, Field(pattern=TIMEZONE_PATTERN, description="IANA time zone name")]
LanguageTag = Annotated[str, Field(pattern=LANGUAGE_PATTERN, description="BCP 47 language tag")]
CountryCode = Annotated[str, Field(pattern=COUNTRY_PATTERN, description="ISO 3166-1 alpha-2 country code")]
IsoDuration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        json_schema_extra={"format": "duration"},
        description="ISO 8601 duration (RFC 3339 appendix A), e.g. P7D or PT2H",
    ),
]


class CaseType(StrEnum):
    """The procedure a case is about."""

    ASYLUM = "asylum"
    REMOVAL_APPEAL = "removal_appeal"
    RESIDENCE_PERMIT_FIRST = "residence_permit_first"
    RESIDENCE_PERMIT_RENEWAL = "residence_permit_renewal"
    FAMILY_REUNIFICATION = "family_reunification"
    DETENTION_ASSISTANCE = "detention_assistance"
    PRISON_ASSISTANCE = "prison_assistance"
    ASSISTED_VOLUNTARY_RETURN = "assisted_voluntary_return"
    LITIGATION = "litigation"
    OTHER = "other"


class OfficeKind(StrEnum):
    DROP_IN_CLINIC = "drop_in_clinic"
    PHONE_LINE = "phone_line"
    DETENTION_CENTRE_TEAM = "detention_centre_team"
    PRISON_TEAM = "prison_team"
    SHELTER = "shelter"
    LITIGATION_DESK = "litigation_desk"
    OTHER = "other"


class StaffRole(StrEnum):
    CASEWORKER = "caseworker"
    COORDINATOR = "coordinator"
    ORG_ADMIN = "org_admin"
    OPERATOR = "operator"
    INTEGRATOR = "integrator"


class ContactChannel(StrEnum):
    """How a beneficiary reached the office (or the office reached them)."""

    PHONE = "phone"
    IN_PERSON = "in_person"
    PRISON = "prison"
    DETENTION_CENTRE = "detention_centre"
    EMAIL = "email"
    VIDEO = "video"


class ContactOutcome(StrEnum):
    RESOLVED_REMOTELY = "resolved_remotely"
    APPOINTMENT_GIVEN = "appointment_given"
    REFERRED = "referred"
    OTHER = "other"


class Decision(StrEnum):
    """An administrative or judicial decision whose notification starts delays."""

    OQTF = "oqtf"
    OFPRA_REJECTION = "ofpra_rejection"
    DUBLIN_TRANSFER = "dublin_transfer"
    EXPULSION = "expulsion"
    RESIDENCE_PERMIT_REFUSAL = "residence_permit_refusal"
    IJ_DECISION = "ij_decision"
    BIA_DECISION = "bia_decision"


class Regime(StrEnum):
    """FR removal decisions: the situation at notification, which selects the delay."""

    ORDINARY = "ordinary"
    RESIDENCE_ORDER = "residence_order"
    PRISON = "prison"
    DETENTION = "detention"


class DeadlinePurpose(StrEnum):
    APPEAL = "appeal"
    LEGAL_AID_REQUEST = "legal_aid_request"
    PETITION_FOR_REVIEW = "petition_for_review"
    MOTION_TO_REOPEN = "motion_to_reopen"
    MOTION_TO_RECONSIDER = "motion_to_reconsider"
    ASYLUM_FILING = "asylum_filing"
    RENEWAL_WINDOW_OPENS = "renewal_window_opens"
    RENEWAL_WINDOW_CLOSES = "renewal_window_closes"
    AGE_OUT = "age_out"
    HEARING = "hearing"


class DeadlineCancelReason(StrEnum):
    SUPERSEDED = "superseded"  # a later fact (R.921-1) replaced it with another deadline
    FACT_WITHDRAWN = "fact_withdrawn"  # the hearing or decision it came from was cancelled
    CASE_CLOSED = "case_closed"
    RULE_CORRECTED = "rule_corrected"
    OTHER = "other"


class CaseOutcome(StrEnum):
    FAVOURABLE = "favourable"
    UNFAVOURABLE = "unfavourable"
    WITHDRAWN = "withdrawn"
    REFERRED = "referred"
    INFORMATION_GIVEN = "information_given"
    LOST_CONTACT = "lost_contact"
    REMOVED = "removed"
    VOLUNTARY_RETURN = "voluntary_return"
    OTHER = "other"


class DetentionKind(StrEnum):
    ADMINISTRATIVE = "administrative"
    PRISON = "prison"
    # An assignation à résidence notified after the removal decision (CESEDA R.921-1): it
    # starts the seven-day window of L.921-1 like a prison term does.
    RESIDENCE_ORDER = "residence_order"
    OTHER = "other"


class DetentionEndReason(StrEnum):
    RELEASED = "released"
    REMOVED = "removed"
    TRANSFERRED = "transferred"
    OTHER = "other"


class ConsentPurpose(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    DATA_PROCESSING = "data_processing"
    ASSISTED_RETURN = "assisted_return"


class NotificationChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class RecipientKind(StrEnum):
    BENEFICIARY = "beneficiary"
    CASEWORKER = "caseworker"
    COORDINATOR = "coordinator"


class SuppressionReason(StrEnum):
    NO_CONSENT = "no_consent"
    OPTED_OUT = "opted_out"
    QUIET_HOURS_DEFERRED = "quiet_hours_deferred"
    ERASED = "erased"


class FailureReason(StrEnum):
    NO_CONTACT_DETAILS = "no_contact_details"
    INVALID_RECIPIENT = "invalid_recipient"
    REJECTED_BY_PROVIDER = "rejected_by_provider"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    UNDELIVERABLE = "undeliverable"
    # The connection or the sender died while the provider had the message: it may have
    # been delivered; it is not sent again (at most once per event, recipient, channel).
    OUTCOME_UNKNOWN = "outcome_unknown"
    OTHER = "other"


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    NOT_STATED = "not_stated"


class AgeBand(StrEnum):
    """Coarse age, enough for statistics and too coarse to single anyone out."""

    UNDER_18 = "0-17"
    FROM_18_TO_25 = "18-25"
    FROM_26_TO_35 = "26-35"
    FROM_36_TO_50 = "36-50"
    FROM_51_TO_65 = "51-65"
    OVER_65 = "66+"
