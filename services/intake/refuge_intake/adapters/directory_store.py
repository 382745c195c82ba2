"""SQL for organisations, offices, staff and API keys (intake schema, RLS-scoped)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

from refuge_common.auth.principal import Role
from refuge_common.contract.sealed import Sealed
from refuge_common.db.pool import Connection
from refuge_intake.domain.api_keys import NewApiKey, StoredApiKey


@dataclass(frozen=True)
class Office:
    office_id: UUID
    tenant_id: UUID
    name: str
    kind: str
    timezone: str
    jurisdiction: str
    closed: bool


async def insert_organisation(
    connection: Connection, organisation_id: UUID, name: str, default_language: str
) -> None:
    await connection.execute(
        """INSERT INTO organisations (organisation_id, tenant_id, name, default_language)
           VALUES ($1, $1, $2, $3)""",
        organisation_id,
        name,
        default_language,
    )


async def insert_office(connection: Connection, office: Office) -> None:
    await connection.execute(
        """INSERT INTO offices (office_id, tenant_id, name, kind, timezone, jurisdiction)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        office.office_id,
        office.tenant_id,
        office.name,
        office.kind,
        office.timezone,
        office.jurisdiction,
    )


async def get_office(connection: Connection, office_id: UUID) -> Office | None:
    row = await connection.fetchrow(
        """SELECT office_id, tenant_id, name, kind, timezone, jurisdiction,
                  closed_at IS NOT NULL AS closed
           FROM offices WHERE office_id = $1""",
        office_id,
    )
    return Office(**dict(row)) if row else None


async def insert_staff(
    connection: Connection,
    *,
    staff_id: UUID,
    tenant_id: UUID,
    office_id: UUID | None,
    role: Role,
    preferred_language: str,
    contact: Sealed | None,
) -> None:
    await connection.execute(
        """INSERT INTO staff (staff_id, tenant_id, office_id, role, preferred_language, contact)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        staff_id,
        tenant_id,
        office_id,
        role.value,
        preferred_language,
        json.loads(contact.model_dump_json()) if contact else None,
    )


async def staff_exists(connection: Connection, staff_id: UUID) -> bool:
    return bool(await connection.fetchval("SELECT true FROM staff WHERE staff_id = $1", staff_id))


async def insert_api_key(
    connection: Connection,
    key: NewApiKey,
    *,
    tenant_id: UUID,
    role: Role,
    office_id: UUID | None,
    staff_id: UUID | None,
    label: str,
) -> None:
    await connection.execute(
        """INSERT INTO api_keys (key_id, tenant_id, secret_hash, role, office_id, staff_id, label)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        key.key_id,
        tenant_id,
        key.secret_hash,
        role.value,
        office_id,
        staff_id,
        label,
    )


async def find_api_key(connection: Connection, key_id: str) -> StoredApiKey | None:
    """Looked up before the tenant is known, through the one SECURITY DEFINER function."""

    row = await connection.fetchrow("SELECT * FROM authenticate_api_key($1)", key_id)
    if row is None:
        return None
    return StoredApiKey(
        key_id=key_id,
        tenant_id=row["tenant_id"],
        secret_hash=bytes(row["secret_hash"]),
        role=Role(row["role"]),
        office_id=row["office_id"],
        staff_id=row["staff_id"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )
