"""The audit log of personal data: who read or wrote which person, when. Append-only.

A row holds ids and a role, never the data itself, so the log can be kept after an
erasure and shown to a data-protection officer without disclosing anything.
"""

from __future__ import annotations

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
