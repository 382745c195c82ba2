"""SQL for organisations, offices, staff and API keys (intake schema, RLS-scoped)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
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


async def update_office(connection: Connection, office: Office) -> None:
    await connection.execute(
        """UPDATE offices SET name = $2, kind = $3, timezone = $4, jurisdiction = $5
           WHERE office_id = $1""",
        office.office_id,
        office.name,
        office.kind,
        office.timezone,
        office.jurisdiction,
    )


async def close_office(connection: Connection, office_id: UUID, at: datetime) -> None:
    await connection.execute("UPDATE offices SET closed_at = $2 WHERE office_id = $1", office_id, at)


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


@dataclass(frozen=True)
class StaffMember:
    staff_id: UUID
    tenant_id: UUID
    office_id: UUID | None
    role: Role
    preferred_language: str
    contact: Sealed | None
    removed: bool


async def get_staff(connection: Connection, staff_id: UUID, *, lock: bool = False) -> StaffMember | None:
    row = await connection.fetchrow(
        """SELECT staff_id, tenant_id, office_id, role, preferred_language, contact,
                  removed_at IS NOT NULL AS removed
           FROM staff WHERE staff_id = $1"""
        + (" FOR UPDATE" if lock else ""),
        staff_id,
    )
    if row is None:
        return None
    values = dict(row)
    contact = values.pop("contact")
    return StaffMember(
        **{**values, "role": Role(values["role"])},
        contact=Sealed.model_validate(contact) if contact else None,
    )


async def update_staff(connection: Connection, staff: StaffMember) -> None:
    await connection.execute(
        """UPDATE staff SET office_id = $2, role = $3, preferred_language = $4, contact = $5
           WHERE staff_id = $1""",
        staff.staff_id,
        staff.office_id,
        staff.role.value,
        staff.preferred_language,
        json.loads(staff.contact.model_dump_json()) if staff.contact else None,
    )


async def mark_staff_removed(connection: Connection, staff_id: UUID, at: datetime) -> None:
    # The sealed contact goes with the row's key; clearing it too leaves no ciphertext behind.
    await connection.execute(
        "UPDATE staff SET removed_at = $2, contact = NULL WHERE staff_id = $1", staff_id, at
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


@dataclass(frozen=True)
class ApiKeyInfo:
    """What an operator may see of a key: never its secret nor the secret's hash."""

    key_id: str
    role: str
    office_id: UUID | None
    staff_id: UUID | None
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


async def list_api_keys(connection: Connection, tenant_id: UUID) -> list[ApiKeyInfo]:
    rows = await connection.fetch(
        """SELECT key_id, role, office_id, staff_id, label, created_at, expires_at, revoked_at
           FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, key_id""",
        tenant_id,
    )
    return [ApiKeyInfo(**dict(row)) for row in rows]


async def get_api_key_info(connection: Connection, key_id: str) -> ApiKeyInfo | None:
    row = await connection.fetchrow(
        """SELECT key_id, role, office_id, staff_id, label, created_at, expires_at, revoked_at
           FROM api_keys WHERE key_id = $1""",
        key_id,
    )
    return ApiKeyInfo(**dict(row)) if row else None


async def set_api_key_expiry(connection: Connection, key_id: str, at: datetime) -> bool:
    status = await connection.execute("UPDATE api_keys SET expires_at = $2 WHERE key_id = $1", key_id, at)
    return _one_row(status)


async def revoke_api_key(connection: Connection, key_id: str, at: datetime) -> bool:
    # A second revocation keeps the time of the first: that is when access ended.
    status = await connection.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE key_id = $1", key_id, at
    )
    return _one_row(status)


async def revoke_api_keys_of_staff(connection: Connection, staff_id: UUID, at: datetime) -> int:
    status = await connection.execute(
        "UPDATE api_keys SET revoked_at = $2 WHERE staff_id = $1 AND revoked_at IS NULL", staff_id, at
    )
    return int(status.split()[-1])


def _one_row(status: Any) -> bool:
    return str(status).endswith(" 1")
