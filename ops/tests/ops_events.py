"""Real CloudEvents of the v1 contract for the tests (shared by unit and integration tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

from refuge_common.contract.cases import CaseOpened
from refuge_common.contract.envelope import Envelope, new_event
from refuge_common.contract.persons import PersonRegistered
from refuge_common.contract.vocabulary import AgeBand, Gender
from refuge_common.crypto.sealing import new_data_key, seal

SOURCE = "/refuge/ops-tests"
SECRET = {"given_name": "Amina", "family_name": "Haddad", "phone": "+33612345678"}


def case_opened(tenant: UUID, *, office_id: UUID | None = None, case_id: UUID | None = None) -> Envelope:
    data = CaseOpened(
        case_id=case_id or uuid.uuid4(),
        organisation_id=tenant,
        office_id=office_id or uuid.uuid4(),
        case_type="asylum",  # type: ignore[arg-type]
        jurisdiction="FR",
        channel="phone",  # type: ignore[arg-type]
        opened_at=datetime.now(UTC),
    )
    return new_event(SOURCE, data, tenant)


def person_registered(tenant: UUID, person_id: UUID | None = None) -> Envelope:
    person = person_id or uuid.uuid4()
    data = PersonRegistered(
        person_id=person,
        gender=Gender.FEMALE,
        nationalities=["SY"],
        age_band=AgeBand("26-35"),
        preferred_language="fr",
        timezone="Europe/Paris",
        personal_data=seal(new_data_key(), person, SECRET),
    )
    return new_event(SOURCE, data, tenant)
