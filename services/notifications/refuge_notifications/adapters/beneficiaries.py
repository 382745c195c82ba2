"""Beneficiaries as notifications knows them: sealed contacts, case links, consents."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from refuge_common.contract.sealed import Sealed
from refuge_common.db.pool import Connection


@dataclass(frozen=True)
class PersonContact:
    person_id: UUID
    tenant_id: UUID
    preferred_language: str | None
    timezone: str | None
    personal_data: Sealed | None


@dataclass(frozen=True)
class Consent:
    given: bool
    recorded_at: datetime
    source: str


async def upsert_person(
    connection: Connection,
    *,
    person_id: UUID,
    tenant_id: UUID,
    preferred_language: str | None,
    timezone: str | None,
    personal_data: Sealed | None,
    phone_hash: bytes | None,
) -> None:
    await connection.execute(
        """INSERT INTO person_contacts (person_id, tenant_id, preferred_language, timezone,
                                        personal_data, phone_hash)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (person_id) DO UPDATE SET preferred_language = $3, timezone = $4,
               personal_data = $5, phone_hash = $6, updated_at = now()""",
        person_id,
        tenant_id,
        preferred_language,
        timezone,
        json.loads(personal_data.model_dump_json()) if personal_data else None,
        phone_hash,
    )


async def get_person(connection: Connection, person_id: UUID) -> PersonContact | None:
    row = await connection.fetchrow(
        """SELECT person_id, tenant_id, preferred_language, timezone, personal_data
           FROM person_contacts WHERE person_id = $1""",
        person_id,
    )
    if row is None:
        return None
    values = dict(row)
    values["personal_data"] = (
        Sealed.model_validate(values["personal_data"]) if values["personal_data"] else None
    )
    return PersonContact(**values)


async def forget_person(connection: Connection, person_id: UUID) -> None:
    """Everything this service holds about a person, but the delivery log's ids."""

    await connection.execute("DELETE FROM person_contacts WHERE person_id = $1", person_id)
    await connection.execute("DELETE FROM consents WHERE person_id = $1", person_id)
    await connection.execute("DELETE FROM case_persons WHERE person_id = $1", person_id)


async def persons_with_phone(connection: Connection, phone_hash: bytes) -> list[UUID]:
    rows = await connection.fetch("SELECT person_id FROM person_contacts WHERE phone_hash = $1", phone_hash)
    return [row["person_id"] for row in rows]


async def link_case(
    connection: Connection,
    case_id: UUID,
    tenant_id: UUID,
    person_id: UUID | None,
    office_id: UUID | None,
    caseworker_id: UUID | None = None,
) -> None:
    await connection.execute(
        """INSERT INTO case_persons (case_id, tenant_id, person_id, office_id, caseworker_id)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (case_id) DO UPDATE SET person_id = coalesce($3, case_persons.person_id),
               office_id = coalesce($4, case_persons.office_id),
               caseworker_id = coalesce($5, case_persons.caseworker_id)""",
        case_id,
        tenant_id,
        person_id,
        office_id,
        caseworker_id,
    )


async def case_person(connection: Connection, case_id: UUID) -> tuple[UUID | None, UUID | None]:
    """(person_id, office_id) of a case, as far as this service knows."""

    row = await connection.fetchrow(
        "SELECT person_id, office_id FROM case_persons WHERE case_id = $1", case_id
    )
    return (row["person_id"], row["office_id"]) if row else (None, None)


async def case_caseworker(connection: Connection, case_id: UUID) -> UUID | None:
    return await connection.fetchval(  # type: ignore[no-any-return]
        "SELECT caseworker_id FROM case_persons WHERE case_id = $1", case_id
    )


async def record_consent(
    connection: Connection,
    *,
    person_id: UUID,
    tenant_id: UUID,
    channel: str,
    given: bool,
    recorded_at: datetime,
    source: str,
    case_id: UUID | None = None,
) -> Consent:
    """Record a consent decision unless a later one is on record; return the one in force.

    The latest ``recorded_at`` wins; on a tie, the withdrawal does."""

    await connection.execute(
        """INSERT INTO consents (person_id, channel, tenant_id, given, recorded_at, source, case_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (person_id, channel) DO UPDATE
               SET given = EXCLUDED.given, recorded_at = EXCLUDED.recorded_at,
                   source = EXCLUDED.source, case_id = EXCLUDED.case_id
               WHERE EXCLUDED.recorded_at > consents.recorded_at
                  OR (EXCLUDED.recorded_at = consents.recorded_at AND NOT EXCLUDED.given)""",
        person_id,
        channel,
        tenant_id,
        given,
        recorded_at,
        source,
        case_id,
    )
    consent = await get_consent(connection, person_id, channel)
    assert consent is not None
    return consent


async def get_consent(connection: Connection, person_id: UUID, channel: str) -> Consent | None:
    row = await connection.fetchrow(
        "SELECT given, recorded_at, source FROM consents WHERE person_id = $1 AND channel = $2",
        person_id,
        channel,
    )
    return Consent(row["given"], row["recorded_at"], row["source"]) if row else None


@dataclass(frozen=True)
class Recipient:
    """What sending one message to a beneficiary depends on, read in one go for a batch:
    their contact (None: not arrived yet) and their consent on the message's channel (None:
    never asked, or not arrived yet)."""

    contact: PersonContact | None
    consent: Consent | None


async def recipients(
    connection: Connection, wanted: list[tuple[UUID, str]]
) -> dict[tuple[UUID, str], Recipient]:
    """Contact and consent of each (person, channel) of ``wanted`` (the current tenant's,
    under row-level security), in one query: read when the batch is claimed, so that a
    withdrawal or an erasure recorded before then applies to it."""

    rows = await connection.fetch(
        """SELECT w.person_id, w.channel, p.tenant_id, p.preferred_language, p.timezone,
                  p.personal_data, p.person_id IS NOT NULL AS has_contact,
                  c.given, c.recorded_at, c.source
           FROM unnest($1::uuid[], $2::text[]) AS w(person_id, channel)
           LEFT JOIN person_contacts p ON p.person_id = w.person_id
           LEFT JOIN consents c ON c.person_id = w.person_id AND c.channel = w.channel""",
        [person for person, _ in wanted],
        [channel for _, channel in wanted],
    )
    found = {}
    for row in rows:
        contact = None
        if row["has_contact"]:
            sealed = row["personal_data"]
            contact = PersonContact(
                person_id=row["person_id"],
                tenant_id=row["tenant_id"],
                preferred_language=row["preferred_language"],
                timezone=row["timezone"],
                personal_data=Sealed.model_validate(sealed) if sealed else None,
            )
        consent = (
            Consent(row["given"], row["recorded_at"], row["source"]) if row["given"] is not None else None
        )
        found[(row["person_id"], row["channel"])] = Recipient(contact, consent)
    return found
