"""SQL for cases and their fact timeline (intake schema, RLS-scoped)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from refuge_common.db.pool import Connection


@dataclass(frozen=True)
class Case:
    case_id: UUID
    tenant_id: UUID
    office_id: UUID
    case_type: str
    jurisdiction: str
    channel: str
    person_id: UUID | None
    caseworker_id: UUID | None
    status: str
    opened_at: datetime
    closed_at: datetime | None


_COLUMNS = (
    "case_id, tenant_id, office_id, case_type, jurisdiction, channel, person_id, caseworker_id, "
    "status, opened_at, closed_at"
)


async def insert_case(connection: Connection, case: Case) -> None:
    await connection.execute(
        f"INSERT INTO cases ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        case.case_id,
        case.tenant_id,
        case.office_id,
        case.case_type,
        case.jurisdiction,
        case.channel,
        case.person_id,
        case.caseworker_id,
        case.status,
        case.opened_at,
        case.closed_at,
    )


async def lock_case(connection: Connection, case_id: UUID) -> Case | None:
    """The case, locked until the transaction ends: writes to one case are serial,
    which keeps its events in commit order in the outbox."""

    row = await connection.fetchrow(f"SELECT {_COLUMNS} FROM cases WHERE case_id = $1 FOR UPDATE", case_id)
    return Case(**dict(row)) if row else None


async def get_case(connection: Connection, case_id: UUID) -> Case | None:
    row = await connection.fetchrow(f"SELECT {_COLUMNS} FROM cases WHERE case_id = $1", case_id)
    return Case(**dict(row)) if row else None


async def append_fact(
    connection: Connection,
    *,
    tenant_id: UUID,
    case_id: UUID,
    event_id: str,
    event_type: str,
    data: dict[str, Any],
    recorded_by: str,
) -> None:
    await connection.execute(
        """INSERT INTO case_facts (tenant_id, case_id, event_id, event_type, data, recorded_by)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        tenant_id,
        case_id,
        event_id,
        event_type,
        data,
        recorded_by,
    )


async def timeline(connection: Connection, case_id: UUID) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        """SELECT event_id, event_type, data, recorded_by, recorded_at
           FROM case_facts WHERE case_id = $1 ORDER BY fact_id""",
        case_id,
    )
    return [dict(row) for row in rows]
