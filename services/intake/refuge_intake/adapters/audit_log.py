"""The audit log of personal data: who read or wrote which person, when. Append-only.

A row holds ids and a role, never the data itself, so the log can be kept after an
erasure and shown to a data-protection officer without disclosing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from refuge_common.auth.principal import Principal
from refuge_common.db.pool import Connection


class Access(StrEnum):
    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    ERASE = "erase"


async def record(connection: Connection, principal: Principal, person_id: UUID, action: Access) -> None:
    """One row, in the caller's transaction: the access and its record commit together."""

    # The key names the staff member it was issued to, if any; a token carries only
    # the key id, so the staff id is looked up here rather than trusted from a claim.
    await connection.execute(
        """INSERT INTO person_audit (tenant_id, person_id, action, key_id, staff_id, role)
           VALUES ($1, $2, $3, $4, (SELECT staff_id FROM api_keys WHERE key_id = $4), $5)""",
        principal.organisation_id,
        person_id,
        action.value,
        principal.key_id,
        principal.role.value,
    )


async def history(connection: Connection, person_id: UUID) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        """SELECT action, key_id, staff_id, role, at FROM person_audit
           WHERE person_id = $1 ORDER BY audit_id""",
        person_id,
    )
    return [dict(row) for row in rows]


@dataclass(frozen=True)
class AuditQuery:
    """Filters of an organisation's audit log; None leaves a filter out."""

    person_id: UUID | None = None
    staff_id: UUID | None = None
    action: Access | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    before_id: int | None = None  # keyset pagination: rows older than this one
    limit: int = 100


@dataclass(frozen=True)
class AuditRow:
    audit_id: int
    person_id: UUID
    action: Access
    key_id: str
    staff_id: UUID | None
    role: str
    at: datetime


async def search(connection: Connection, tenant_id: UUID, query: AuditQuery) -> list[AuditRow]:
    """The tenant's rows matching ``query``, newest first, at most ``query.limit``."""

    # RLS already confines the rows to the transaction's tenant; the explicit filter
    # lets the planner use person_audit_tenant, and is a second lock on the same door.
    rows = await connection.fetch(
        """SELECT audit_id, person_id, action, key_id, staff_id, role, at FROM person_audit
           WHERE tenant_id = $1
             AND ($2::uuid IS NULL OR person_id = $2)
             AND ($3::uuid IS NULL OR staff_id = $3)
             AND ($4::text IS NULL OR action = $4)
             AND ($5::timestamptz IS NULL OR at >= $5)
             AND ($6::timestamptz IS NULL OR at < $6)
             AND ($7::bigint IS NULL OR audit_id < $7)
           ORDER BY audit_id DESC
           LIMIT $8""",
        tenant_id,
        query.person_id,
        query.staff_id,
        query.action.value if query.action else None,
        query.since,
        query.until,
        query.before_id,
        query.limit,
    )
    return [AuditRow(**{**dict(row), "action": Access(row["action"])}) for row in rows]
