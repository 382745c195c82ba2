"""``refuge.persons.v1``: beneficiaries, emitted by intake, keyed by person_id.

In clear, a person is only a random ``person_id`` and the coarse attributes that
statistics and reminders need. Everything identifying travels in ``personal_data``,
sealed under the person's own key; ``person.erased`` says that key is gone.
"""

from __future__ import annotations

from typing import Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from refuge_common.contract import topics
from refuge_common.contract.base import EventData, event_type
from refuge_common.contract.sealed import Sealed
from refuge_common.contract.vocabulary import AgeBand, CountryCode, Gender, LanguageTag, Timezone


class _PersonState(EventData):
    person_id: UUID
    gender: Gender = Gender.NOT_STATED
    nationalities: list[CountryCode] = Field(
        default_factory=list, description="ISO 3166-1 alpha-2 codes; empty when unknown"
    )
    stateless: bool | None = Field(default=None, description="true when recorded as stateless")
    age_band: AgeBand | None = None
    unaccompanied_minor: bool | None = Field(
        default=None,
        description="recorded as a minor without a parent or guardian in the country (MNA, UAC): "
        "their coming of age opens deadlines (the birth date itself stays sealed)",
    )
    preferred_language: LanguageTag | None = Field(
        default=None, description="language of the messages the person receives"
    )
    timezone: Timezone | None = Field(
        default=None, description="where the person is, for quiet hours; else the office's"
    )
    personal_data: Sealed | None = Field(
        default=None,
        description="sealed under the person's key (key_id = person_id): JSON object with "
        "names, phone, email, birth date, document numbers, address",
    )

    @model_validator(mode="after")
    def _sealed_under_own_key(self) -> Self:
        # Erasure deletes the key named person_id; data sealed under another key
        # would outlive the erasure.
        if self.personal_data is not None and self.personal_data.key_id != self.person_id:
            raise ValueError("personal_data must be sealed under the person's key (person_id)")
        return self


@event_type("org.refuge.person.registered.v1", topic=topics.PERSONS, subject="person_id")
class PersonRegistered(_PersonState):
    """Emitted when a beneficiary is registered (their key is created at the same time)."""


@event_type("org.refuge.person.updated.v1", topic=topics.PERSONS, subject="person_id")
class PersonUpdated(_PersonState):
    """Emitted when any attribute or sealed detail of a person changes; full state."""


@event_type("org.refuge.person.erased.v1", topic=topics.PERSONS, subject="person_id")
class PersonErased(EventData):
    """Emitted once the person's key is deleted: every sealed copy is now unreadable.

    Consumers drop what they hold about the person (contact copies, pending messages).
    """

    person_id: UUID
    erased_at: AwareDatetime | None = None
