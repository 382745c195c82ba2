"""The upcoming deadlines of an office or an organisation (RLS keeps it to the tenant)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from refuge_common.db.pool import Connection


@dataclass(frozen=True)
class UpcomingDeadline:
    deadline_id: UUID
    case_id: UUID
    office_id: UUID | None
    purpose: str
    rule: str
    due: datetime
    timezone: str


async def upcoming(
    connection: Connection, *, after: datetime, office_id: UUID | None, limit: int
) -> list[UpcomingDeadline]:
    rows = await connection.fetch(
        """SELECT deadline_id, case_id, office_id, purpose, rule, due, timezone FROM deadlines
           WHERE status = 'open' AND due >= $1 AND ($2::uuid IS NULL OR office_id = $2)
           ORDER BY due, deadline_id LIMIT $3""",
        after,
        office_id,
        limit,
    )
    return [UpcomingDeadline(**dict(row)) for row in rows]
