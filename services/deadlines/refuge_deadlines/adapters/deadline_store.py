"""SQL for the deadlines of a case, their timers and the facts they come from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from refuge_common.db.pool import Connection


@dataclass(frozen=True)
class StoredDeadline:
    deadline_id: UUID
    key: str
    purpose: str
    rule: str
    legal_basis: str
    due: datetime
    timezone: str
    alternative: str | None
    status: str
    trigger_event_id: str
    office_id: UUID | None = None


async def append_fact(
    connection: Connection, tenant_id: UUID, case_id: UUID, event_id: str, kind: str, data: dict[str, Any]
) -> None:
    await connection.execute(
        """INSERT INTO case_facts (tenant_id, case_id, event_id, kind, data) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (case_id, event_id) DO NOTHING""",
        tenant_id,
        case_id,
        event_id,
        kind,
        data,
    )


async def facts_of(connection: Connection, case_id: UUID) -> list[tuple[str, str, dict[str, Any]]]:
    rows = await connection.fetch(
        "SELECT event_id, kind, data FROM case_facts WHERE case_id = $1 ORDER BY seq", case_id
    )
    return [(row["event_id"], row["kind"], row["data"]) for row in rows]


async def deadlines_of(connection: Connection, case_id: UUID) -> dict[str, StoredDeadline]:
    rows = await connection.fetch(
        """SELECT deadline_id, key, purpose, rule, legal_basis, due, timezone, alternative, status,
                  trigger_event_id, office_id
           FROM deadlines WHERE case_id = $1 FOR UPDATE""",
        case_id,
    )
    return {row["key"]: StoredDeadline(**dict(row)) for row in rows}


async def insert_deadline(
    connection: Connection, tenant_id: UUID, office_id: UUID | None, case_id: UUID, deadline: StoredDeadline
) -> None:
    await connection.execute(
        """INSERT INTO deadlines (deadline_id, tenant_id, case_id, office_id, key, purpose, rule,
                                  legal_basis, due, timezone, alternative, status, trigger_event_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)""",
        deadline.deadline_id,
        tenant_id,
        case_id,
        office_id,
        deadline.key,
        deadline.purpose,
        deadline.rule,
        deadline.legal_basis,
        deadline.due,
        deadline.timezone,
        deadline.alternative,
        deadline.status,
        deadline.trigger_event_id,
    )


async def update_deadline(connection: Connection, deadline: StoredDeadline, **state: Any) -> None:
    """Write the deadline's computed fields and any state column given (met_at, cancel_reason...)."""

    columns = {
        "office_id": deadline.office_id,
        "due": deadline.due,
        "timezone": deadline.timezone,
        "legal_basis": deadline.legal_basis,
        "alternative": deadline.alternative,
        "status": deadline.status,
        **state,
    }
    assignments = ", ".join(f"{name} = ${index}" for index, name in enumerate(columns, start=2))
    await connection.execute(
        f"UPDATE deadlines SET {assignments}, updated_at = now() WHERE deadline_id = $1",
        deadline.deadline_id,
        *columns.values(),
    )


async def cancel_pending_timers(connection: Connection, deadline_id: UUID) -> None:
    await connection.execute(
        "UPDATE reminders SET status = 'cancelled' WHERE deadline_id = $1 AND status = 'pending'",
        deadline_id,
    )


async def add_timers(
    connection: Connection, rows: list[tuple[UUID, UUID, UUID, datetime, str, str, dict[str, Any]]]
) -> None:
    """Rows of (timer id, tenant, deadline, fire at, offset, kind, payload)."""

    await connection.executemany(
        """INSERT INTO reminders (reminder_id, tenant_id, deadline_id, remind_at, "offset", kind, payload)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        rows,
    )


async def lock_without_waiting(connection: Connection, deadline_id: UUID) -> str | None:
    """The deadline's status, locked; None if another transaction holds it."""

    return await connection.fetchval(  # type: ignore[no-any-return]
        "SELECT status FROM deadlines WHERE deadline_id = $1 FOR UPDATE SKIP LOCKED", deadline_id
    )


async def mark_missed(connection: Connection, deadline_id: UUID) -> dict[str, Any] | None:
    """Open → missed; the deadline's row, or None if it was met or cancelled meanwhile."""

    row = await connection.fetchrow(
        """UPDATE deadlines SET status = 'missed', missed_at = now(), updated_at = now()
           WHERE deadline_id = $1 AND status = 'open'
           RETURNING deadline_id, case_id, purpose, due""",
        deadline_id,
    )
    return dict(row) if row else None


def as_json(model: Any) -> dict[str, Any]:
    return json.loads(model.model_dump_json())  # type: ignore[no-any-return]


async def drop_facts(connection: Connection, case_id: UUID, kind: str) -> None:
    """Forget a case's facts of one kind (a person's erasure: their coming-of-age anchors)."""

    await connection.execute("DELETE FROM case_facts WHERE case_id = $1 AND kind = $2", case_id, kind)
