"""Queries behind the figures (RLS keeps them to the caller's organisation)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from refuge_common.db.pool import Connection


async def headline(
    connection: Connection, *, start: datetime, end: datetime, office_id: UUID | None
) -> dict[str, Any]:
    row = await connection.fetchrow(
        """SELECT
             (SELECT count(*) FROM case_facts WHERE opened_at >= $1 AND opened_at < $2
                AND ($3::uuid IS NULL OR office_id = $3)) AS cases_opened,
             (SELECT count(*) FROM case_facts WHERE opened_at < $2
                AND (closed_at IS NULL OR closed_at >= $2)
                AND ($3::uuid IS NULL OR office_id = $3)) AS cases_open,
             (SELECT count(*) FROM deadline_facts WHERE computed_at >= $1 AND computed_at < $2
                AND ($3::uuid IS NULL OR office_id = $3)) AS deadlines_computed""",
        start,
        end,
        office_id,
    )
    assert row is not None
    return dict(row)
