"""``refuge.directory.v1``: organisations, offices and staff, emitted by intake.

Services that need an office's time zone or a caseworker's address keep their own
copy from these events, so ``*.updated`` events carry the complete current state,
not a difference.
"""

from __future__ import annotations

from typing import Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from refuge_common.contract import topics
from refuge_common.contract.base import EventData, event_type
from refuge_common.contract.sealed import Sealed
from refuge_common.contract.vocabulary import (
    Jurisdiction,
    LanguageTag,
    OfficeKind,
    StaffRole,
    Timezone,
)


@event_type("org.refuge.organisation.registered.v1", topic=topics.DIRECTORY, subject="organisation_id")
class OrganisationRegistered(EventData):
    """Emitted when an organisation (a tenant) is registered on the platform."""

    organisation_id: UUID
    name: str = Field(min_length=1, description="the organisation's public name (not personal)")
    default_language: LanguageTag = "fr"


class _OfficeState(EventData):
    office_id: UUID
    organisation_id: UUID
    name: str = Field(min_length=1, description="the office's public name (not personal)")
    kind: OfficeKind
    timezone: Timezone = Field(description="IANA time zone of the office, e.g. Europe/Paris")
    jurisdiction: Jurisdiction


@event_type("org.refuge.office.opened.v1", topic=topics.DIRECTORY, subject="office_id")
class OfficeOpened(_OfficeState):
    """Emitted when an office (clinic, phone line, detention or prison team...) opens."""


@event_type("org.refuge.office.updated.v1", topic=topics.DIRECTORY, subject="office_id")
class OfficeUpdated(_OfficeState):
    """Emitted when any attribute of an office changes; carries its complete state."""


@event_type("org.refuge.office.closed.v1", topic=topics.DIRECTORY, subject="office_id")
class OfficeClosed(EventData):
    """Emitted when an office closes. Its cases stay; new cases cannot be opened in it."""

    office_id: UUID
    organisation_id: UUID
    closed_at: AwareDatetime | None = None


class _StaffState(EventData):
    staff_id: UUID
    organisation_id: UUID
    office_id: UUID | None = Field(
        default=None, description="the staff member's office; none for organisation-wide roles"
    )
    role: StaffRole
    preferred_language: LanguageTag = "fr"
    timezone: Timezone | None = Field(
        default=None, description="where the staff member works, when not the office's zone"
    )
    contact: Sealed | None = Field(
        default=None,
        description="sealed under the staff member's own key (key_id = staff_id): "
        "JSON object with name, email and phone",
    )

    @model_validator(mode="after")
    def _sealed_under_own_key(self) -> Self:
        # Removing a staff member shreds the key named staff_id; contact sealed under
        # any other key would survive that.
        if self.contact is not None and self.contact.key_id != self.staff_id:
            raise ValueError("contact must be sealed under the staff member's key (staff_id)")
        return self


@event_type("org.refuge.staff.registered.v1", topic=topics.DIRECTORY, subject="staff_id")
class StaffRegistered(_StaffState):
    """Emitted when a caseworker, coordinator, admin, operator or integrator is registered."""


@event_type("org.refuge.staff.updated.v1", topic=topics.DIRECTORY, subject="staff_id")
class StaffUpdated(_StaffState):
    """Emitted when a staff member's role, office, language or contact changes; full state."""


@event_type("org.refuge.staff.removed.v1", topic=topics.DIRECTORY, subject="staff_id")
class StaffRemoved(EventData):
    """Emitted when a staff member leaves; readers drop their copy of the contact."""

    staff_id: UUID
    organisation_id: UUID
    removed_at: AwareDatetime | None = None
