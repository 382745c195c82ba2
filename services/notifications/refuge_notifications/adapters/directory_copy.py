"""Notifications' copy of the directory: organisations, offices, staff contacts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

from refuge_common.contract.sealed import Sealed
from refuge_common.db.pool import Connection


@dataclass(frozen=True)
class StaffContact:
    staff_id: UUID
    tenant_id: UUID
    preferred_language: str
    timezone: str | None
    contact: Sealed | None
    organisation_name: str | None


async def upsert_organisation(
    connection: Connection, organisation_id: UUID, name: str, default_language: str
) -> None:
    await connection.execute(
        """INSERT INTO organisations (organisation_id, tenant_id, name, default_language)
           VALUES ($1, $1, $2, $3)
           ON CONFLICT (organisation_id) DO UPDATE SET name = $2, default_language = $3""",
        organisation_id,
        name,
        default_language,
    )


async def upsert_staff(
    connection: Connection,
    *,
    staff_id: UUID,
    tenant_id: UUID,
    office_id: UUID | None,
    role: str,
    preferred_language: str,
    timezone: str | None,
    contact: Sealed | None,
) -> None:
    await connection.execute(
        """INSERT INTO staff_contacts (staff_id, tenant_id, office_id, role, preferred_language,
                                       timezone, contact)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (staff_id) DO UPDATE SET office_id = $3, role = $4,
               preferred_language = $5, timezone = $6, contact = $7""",
        staff_id,
        tenant_id,
        office_id,
        role,
        preferred_language,
        timezone,
        json.loads(contact.model_dump_json()) if contact else None,
    )


async def delete_staff(connection: Connection, staff_id: UUID) -> None:
    await connection.execute("DELETE FROM staff_contacts WHERE staff_id = $1", staff_id)


async def get_staff(connection: Connection, staff_id: UUID) -> StaffContact | None:
    row = await connection.fetchrow(
        """SELECT s.staff_id, s.tenant_id, s.preferred_language, s.timezone, s.contact,
                  o.name AS organisation_name
           FROM staff_contacts s LEFT JOIN organisations o ON o.organisation_id = s.tenant_id
           WHERE s.staff_id = $1""",
        staff_id,
    )
    if row is None:
        return None
    values = dict(row)
    values["contact"] = Sealed.model_validate(values["contact"]) if values["contact"] else None
    return StaffContact(**values)


@dataclass(frozen=True)
class Organisation:
    name: str
    default_language: str


async def get_organisation(connection: Connection, organisation_id: UUID) -> Organisation | None:
    row = await connection.fetchrow(
        "SELECT name, default_language FROM organisations WHERE organisation_id = $1", organisation_id
    )
    return Organisation(row["name"], row["default_language"]) if row else None


async def upsert_office(connection: Connection, office_id: UUID, tenant_id: UUID, timezone: str) -> None:
    await connection.execute(
        """INSERT INTO offices (office_id, tenant_id, timezone) VALUES ($1, $2, $3)
           ON CONFLICT (office_id) DO UPDATE SET timezone = $3""",
        office_id,
        tenant_id,
        timezone,
    )


async def office_timezone(connection: Connection, office_id: UUID) -> str | None:
    return await connection.fetchval(  # type: ignore[no-any-return]
        "SELECT timezone FROM offices WHERE office_id = $1", office_id
    )


async def staff_of_office(connection: Connection, office_id: UUID, role: str) -> list[UUID]:
    """Staff of ``role`` in the office (the current tenant's, under row-level security)."""

    rows = await connection.fetch(
        "SELECT staff_id FROM staff_contacts WHERE office_id = $1 AND role = $2 ORDER BY staff_id",
        office_id,
        role,
    )
    return [row["staff_id"] for row in rows]


async def coordinators_for(connection: Connection, office_id: UUID | None) -> list[UUID]:
    """The office's coordinators and the organisation-wide ones (no office)."""

    rows = await connection.fetch(
        """SELECT staff_id FROM staff_contacts
           WHERE role = 'coordinator' AND (office_id IS NULL OR office_id = $1) ORDER BY staff_id""",
        office_id,
    )
    return [row["staff_id"] for row in rows]
