"""Reading the delivery log for people: a case's or a person's messages and their states.

The delivery log is not under row-level security (the dispatcher reads it across tenants):
every query here names the tenant itself.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from refuge_common.db.pool import Connection

HISTORY_COLUMNS = """delivery_id, channel, recipient_kind, recipient_id, template, status, attempts,
       language, provider, receipt, receipt_at, created_at, sent_at, next_attempt_at, case_id,
       deadline_id, trigger_source, trigger_event_id,
       CASE WHEN status = 'suppressed' THEN last_error END AS suppression_reason"""


async def of_case(connection: Connection, tenant_id: UUID, case_id: UUID, limit: int) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        f"""SELECT {HISTORY_COLUMNS} FROM deliveries WHERE tenant_id = $1 AND case_id = $2
            ORDER BY created_at DESC, delivery_id LIMIT $3""",
        tenant_id,
        case_id,
        limit,
    )
    return [dict(row) for row in rows]


async def of_person(
    connection: Connection, tenant_id: UUID, person_id: UUID, limit: int
) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        f"""SELECT {HISTORY_COLUMNS} FROM deliveries
            WHERE tenant_id = $1 AND recipient_id = $2 AND recipient_kind = 'beneficiary'
            ORDER BY created_at DESC, delivery_id LIMIT $3""",
        tenant_id,
        person_id,
        limit,
    )
    return [dict(row) for row in rows]


async def case_office(connection: Connection, case_id: UUID) -> tuple[bool, UUID | None]:
    """(known, office) of a case of the current tenant (row-level security)."""

    row = await connection.fetchrow("SELECT office_id FROM case_persons WHERE case_id = $1", case_id)
    return (row is not None, row["office_id"] if row else None)


async def person_offices(connection: Connection, person_id: UUID) -> tuple[bool, set[UUID | None]]:
    """(known, offices of their cases) of a person of the current tenant (row-level security)."""

    known = await connection.fetchval(
        """SELECT EXISTS (SELECT 1 FROM person_contacts WHERE person_id = $1)
               OR EXISTS (SELECT 1 FROM case_persons WHERE person_id = $1)""",
        person_id,
    )
    rows = await connection.fetch("SELECT office_id FROM case_persons WHERE person_id = $1", person_id)
    return bool(known), {row["office_id"] for row in rows}
