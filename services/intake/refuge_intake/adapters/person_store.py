"""SQL for persons (intake schema, RLS-scoped): clear attributes and the sealed record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from refuge_common.contract.sealed import Sealed
from refuge_common.db.pool import Connection


@dataclass(frozen=True)
class StoredPerson:
    person_id: UUID
    tenant_id: UUID
    office_id: UUID
    gender: str
    nationalities: list[str]
    stateless: bool | None
    unaccompanied_minor: bool | None
    age_band: str | None
    languages: list[str]
    preferred_language: str | None
    timezone: str | None
    personal_data: Sealed | None
    registered_at: datetime
    updated_at: datetime
    erased_at: datetime | None

    def clear(self) -> dict[str, Any]:
        """The attributes kept in clear (what :meth:`Person.restore` reads, and the age band)."""

        return {
            "gender": self.gender,
            "nationalities": self.nationalities,
            "stateless": self.stateless,
            "unaccompanied_minor": self.unaccompanied_minor,
            "age_band": self.age_band,
            "languages": self.languages,
            "preferred_language": self.preferred_language,
            "timezone": self.timezone,
        }


_COLUMNS = (
    "person_id, tenant_id, office_id, gender, nationalities, stateless, unaccompanied_minor, age_band, "
    "languages, preferred_language, timezone, personal_data, registered_at, updated_at, erased_at"
)


def _person(row: Any) -> StoredPerson | None:
    if row is None:
        return None
    values = dict(row)
    sealed = values.pop("personal_data")
    return StoredPerson(**values, personal_data=Sealed.model_validate(sealed) if sealed else None)


async def insert_person(connection: Connection, person: StoredPerson, *, registered_by: str) -> None:
    await connection.execute(
        """INSERT INTO persons (person_id, tenant_id, office_id, gender, nationalities, stateless,
                                unaccompanied_minor, age_band, languages, preferred_language, timezone,
                                personal_data, registered_by, registered_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)""",
        person.person_id,
        person.tenant_id,
        person.office_id,
        person.gender,
        person.nationalities,
        person.stateless,
        person.unaccompanied_minor,
        person.age_band,
        person.languages,
        person.preferred_language,
        person.timezone,
        _json(person.personal_data),
        registered_by,
        person.registered_at,
    )


async def get_person(connection: Connection, person_id: UUID) -> StoredPerson | None:
    row = await connection.fetchrow(f"SELECT {_COLUMNS} FROM persons WHERE person_id = $1", person_id)
    return _person(row)


async def lock_person(connection: Connection, person_id: UUID) -> StoredPerson | None:
    """The person, locked until the transaction ends: concurrent updates of one person
    apply one after the other, and their events leave in that order."""

    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM persons WHERE person_id = $1 FOR UPDATE", person_id
    )
    return _person(row)


async def update_person(connection: Connection, person: StoredPerson) -> None:
    await connection.execute(
        """UPDATE persons SET gender = $2, nationalities = $3, stateless = $4, unaccompanied_minor = $5,
                              age_band = $6, languages = $7, preferred_language = $8, timezone = $9,
                              personal_data = $10, updated_at = $11, version = version + 1
           WHERE person_id = $1""",
        person.person_id,
        person.gender,
        person.nationalities,
        person.stateless,
        person.unaccompanied_minor,
        person.age_band,
        person.languages,
        person.preferred_language,
        person.timezone,
        _json(person.personal_data),
        person.updated_at,
    )


async def mark_erased(connection: Connection, person_id: UUID, erased_at: datetime) -> None:
    await connection.execute(
        """UPDATE persons SET personal_data = NULL, erased_at = $2, updated_at = $2,
                              version = version + 1
           WHERE person_id = $1""",
        person_id,
        erased_at,
    )


async def status(connection: Connection, person_id: UUID) -> Literal["registered", "erased"] | None:
    """Whether a person of the current tenant exists, and whether it was erased."""

    erased = await connection.fetchval(
        "SELECT erased_at IS NOT NULL FROM persons WHERE person_id = $1", person_id
    )
    if erased is None:
        return None
    return "erased" if erased else "registered"


def _json(sealed: Sealed | None) -> dict[str, Any] | None:
    return sealed.model_dump(mode="json") if sealed else None
