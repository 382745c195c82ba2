"""SQL for deadlines' copies of offices and cases, its deadlines and its timers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

import asyncpg

from refuge_common.db.pool import Connection


@dataclass(frozen=True)
class CaseInfo:
    case_id: UUID
    tenant_id: UUID
    office_id: UUID
    jurisdiction: str
    person_id: UUID | None
    caseworker_id: UUID | None


async def lock_office(connection: Connection, office_id: UUID, *, exclusive: bool) -> None:
    """Order a change of an office's time zone against the facts of its cases: facts take the
    lock shared (they never wait for each other), an office change takes it exclusively, so a
    fact never computes with a zone that an office change committed without seeing that fact."""

    await _advisory_lock(connection, f"office:{office_id}", exclusive=exclusive)


async def lock_person(connection: Connection, person_id: UUID) -> None:
    """Order a person's coming of age against the opening of their cases (two topics): each
    then sees what the other committed."""

    await _advisory_lock(connection, f"person:{person_id}", exclusive=True)


async def _advisory_lock(connection: Connection, name: str, *, exclusive: bool) -> None:
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await connection.execute(f"SELECT {function}(hashtextextended($1, 0))", name)


async def upsert_office(
    connection: Connection, office_id: UUID, tenant_id: UUID, timezone: str, jurisdiction: str
) -> str | None:
    """Store the office; return the time zone it had before (None if it was unknown)."""

    previous: str | None = await connection.fetchval(
        "SELECT timezone FROM offices WHERE office_id = $1 FOR UPDATE", office_id
    )
    await connection.execute(
        """INSERT INTO offices (office_id, tenant_id, timezone, jurisdiction) VALUES ($1, $2, $3, $4)
           ON CONFLICT (office_id) DO UPDATE SET timezone = $3, jurisdiction = $4""",
        office_id,
        tenant_id,
        timezone,
        jurisdiction,
    )
    return previous


async def open_cases_in(connection: Connection, office_id: UUID) -> list[CaseInfo]:
    rows = await connection.fetch(
        """SELECT case_id, tenant_id, office_id, jurisdiction, person_id, caseworker_id
           FROM cases WHERE office_id = $1 AND NOT closed ORDER BY case_id""",
        office_id,
    )
    return [CaseInfo(**dict(row)) for row in rows]


async def insert_case(connection: Connection, case: CaseInfo) -> None:
    await connection.execute(
        """INSERT INTO cases (case_id, tenant_id, office_id, jurisdiction, person_id, caseworker_id)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (case_id) DO NOTHING""",
        case.case_id,
        case.tenant_id,
        case.office_id,
        case.jurisdiction,
        case.person_id,
        case.caseworker_id,
    )


async def get_case(connection: Connection, case_id: UUID) -> CaseInfo | None:
    row = await connection.fetchrow(
        """SELECT case_id, tenant_id, office_id, jurisdiction, person_id, caseworker_id
           FROM cases WHERE case_id = $1""",
        case_id,
    )
    return CaseInfo(**dict(row)) if row else None


async def move_case(
    connection: Connection, case_id: UUID, office_id: UUID, caseworker_id: UUID | None
) -> None:
    await connection.execute(
        "UPDATE cases SET office_id = $2, caseworker_id = coalesce($3, caseworker_id) WHERE case_id = $1",
        case_id,
        office_id,
        caseworker_id,
    )


async def close_case(connection: Connection, case_id: UUID) -> None:
    await connection.execute("UPDATE cases SET closed = true, status = 'closed' WHERE case_id = $1", case_id)


async def office_timezone(connection: Connection, office_id: UUID) -> str | None:
    return await connection.fetchval(  # type: ignore[no-any-return]
        "SELECT timezone FROM offices WHERE office_id = $1", office_id
    )


# The ctid locates the row for the worker's outbox INSERT and for mark_fired. The payload
# as text: the worker validates it straight from JSON (pydantic-core) rather than through
# json.loads and a dict.
CLAIM_DUE = """
SELECT ctid, tenant_id, deadline_id, kind, remind_at{payload} FROM reminders
WHERE status = 'pending' AND remind_at <= now()
ORDER BY remind_at LIMIT $1
FOR UPDATE SKIP LOCKED
"""
CLAIM_DUE_IDS = CLAIM_DUE.format(payload="")
CLAIM_DUE_PAYLOADS = CLAIM_DUE.format(payload=", payload::text AS payload")


async def claim_due_reminders(
    connection: Connection, limit: int, *, payloads: bool = True
) -> list[asyncpg.Record]:
    """Lock up to ``limit`` due pending timers, earliest first, skipping those another worker holds.

    Without ``payloads``, the rows have no payload: the worker's INSERT reads it in place.
    """

    return list(await connection.fetch(CLAIM_DUE_PAYLOADS if payloads else CLAIM_DUE_IDS, limit))


async def mark_fired(connection: Connection, claimed: Iterable[asyncpg.Record]) -> None:
    """Mark timers claimed by ``claim_due_reminders`` in this same transaction as fired.

    By ``ctid``: the claim's row lock keeps each row where it is until commit, and a TID
    scan spares a primary-key look-up per timer. ``clock_timestamp()``, not ``now()``:
    the instant of firing, not the start of the transaction.
    """

    await connection.execute(
        "UPDATE reminders SET status = 'fired', fired_at = clock_timestamp() WHERE ctid = ANY($1::tid[])",
        [row["ctid"] for row in claimed],
    )


async def next_reminder_at(connection: Connection) -> datetime | None:
    value = await connection.fetchval("SELECT min(remind_at) FROM reminders WHERE status = 'pending'")
    return value  # type: ignore[no-any-return]


async def cases_of_person(connection: Connection, person_id: UUID) -> list[CaseInfo]:
    rows = await connection.fetch(
        """SELECT case_id, tenant_id, office_id, jurisdiction, person_id, caseworker_id
           FROM cases WHERE person_id = $1 ORDER BY case_id""",
        person_id,
    )
    return [CaseInfo(**dict(row)) for row in rows]


async def coming_of_age(connection: Connection, person_id: UUID) -> date | None:
    return await connection.fetchval(  # type: ignore[no-any-return]
        "SELECT comes_of_age FROM persons WHERE person_id = $1", person_id
    )


async def set_coming_of_age(
    connection: Connection, person_id: UUID, tenant_id: UUID, comes_of_age: date | None
) -> date | None:
    """Store the anchor; return the one stored before (None if none)."""

    previous = await coming_of_age(connection, person_id)
    await connection.execute(
        """INSERT INTO persons (person_id, tenant_id, comes_of_age) VALUES ($1, $2, $3)
           ON CONFLICT (person_id) DO UPDATE SET comes_of_age = $3""",
        person_id,
        tenant_id,
        comes_of_age,
    )
    return previous


async def forget_person(connection: Connection, person_id: UUID) -> None:
    await connection.execute("DELETE FROM persons WHERE person_id = $1", person_id)
