"""SQL for cases and their fact timeline (intake schema, RLS-scoped)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from refuge_common.contract.envelope import Envelope
from refuge_common.contract.vocabulary import ConsentPurpose
from refuge_common.db.pool import Connection
from refuge_common.messaging.outbox import OUTBOX_INSERT, outbox_row, require_transaction
from refuge_intake.domain.cases import Consent, HearingStatus


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
    outcome: str | None = None
    detained_since: datetime | None = None


@dataclass(frozen=True)
class Hearing:
    hearing_id: UUID
    case_id: UUID
    scheduled_at: datetime
    status: HearingStatus


COLUMNS = (
    "case_id, tenant_id, office_id, case_type, jurisdiction, channel, person_id, caseworker_id, "
    "status, opened_at, closed_at, outcome, detained_since"
)


async def update_case(connection: Connection, case: Case) -> None:
    """Write what facts change on a case: office, caseworker, detention, status, outcome."""

    await connection.execute(
        """UPDATE cases SET office_id = $2, caseworker_id = $3, status = $4, closed_at = $5, outcome = $6,
                            detained_since = $7, version = version + 1
           WHERE case_id = $1""",
        case.case_id,
        case.office_id,
        case.caseworker_id,
        case.status,
        case.closed_at,
        case.outcome,
        case.detained_since,
    )


async def lock_case(connection: Connection, case_id: UUID) -> Case | None:
    """The case, locked until the transaction ends: writes to one case are serial,
    which keeps its events in commit order in the outbox."""

    require_transaction(connection)  # a lock outside a transaction would be released at once
    row = await connection.fetchrow(f"SELECT {COLUMNS} FROM cases WHERE case_id = $1 FOR UPDATE", case_id)
    return Case(**dict(row)) if row else None


async def get_case(connection: Connection, case_id: UUID) -> Case | None:
    row = await connection.fetchrow(f"SELECT {COLUMNS} FROM cases WHERE case_id = $1", case_id)
    return Case(**dict(row)) if row else None


_FACT_INSERT = """INSERT INTO case_facts (tenant_id, case_id, event_id, event_type, data, recorded_by)
                  VALUES ($1, $2, $3, $4, $5, $6)"""
_EVENT_VALUES = "VALUES ($7, $8, $9, $10, $11, $12, $13)"


async def append_fact(
    connection: Connection, *, case_id: UUID, fact: Envelope, data: dict[str, Any], recorded_by: str
) -> None:
    """The fact on the case's timeline and its event in the outbox: one statement, so one
    round trip (a write's cost is mostly its round trips). For a case the caller holds
    locked; :mod:`.case_writes` has the statements that lock or open it as they write."""

    require_transaction(connection)
    assert fact.tenant_id is not None, "a case's fact belongs to its organisation"
    await connection.execute(
        f"WITH fact AS ({_FACT_INSERT}) {OUTBOX_INSERT} {_EVENT_VALUES}",
        fact.tenant_id,
        case_id,
        fact.id,
        fact.type,
        data,
        recorded_by,
        *outbox_row(fact, data),
    )


async def timeline(connection: Connection, case_id: UUID) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        """SELECT event_id, event_type, data, recorded_by, recorded_at
           FROM case_facts WHERE case_id = $1 ORDER BY fact_id""",
        case_id,
    )
    return [dict(row) for row in rows]


async def insert_hearing(connection: Connection, tenant_id: UUID, hearing: Hearing) -> None:
    await connection.execute(
        """INSERT INTO case_hearings (hearing_id, tenant_id, case_id, scheduled_at, status)
           VALUES ($1, $2, $3, $4, $5)""",
        hearing.hearing_id,
        tenant_id,
        hearing.case_id,
        hearing.scheduled_at,
        hearing.status.value,
    )


async def get_hearing(connection: Connection, case_id: UUID, hearing_id: UUID) -> Hearing | None:
    row = await connection.fetchrow(
        """SELECT hearing_id, case_id, scheduled_at, status FROM case_hearings
           WHERE case_id = $1 AND hearing_id = $2""",
        case_id,
        hearing_id,
    )
    if row is None:
        return None
    return Hearing(row["hearing_id"], row["case_id"], row["scheduled_at"], HearingStatus(row["status"]))


async def update_hearing(connection: Connection, hearing: Hearing) -> None:
    await connection.execute(
        "UPDATE case_hearings SET scheduled_at = $2, status = $3, updated_at = now() WHERE hearing_id = $1",
        hearing.hearing_id,
        hearing.scheduled_at,
        hearing.status.value,
    )


async def get_consent(connection: Connection, case_id: UUID, purpose: ConsentPurpose) -> Consent | None:
    row = await connection.fetchrow(
        "SELECT given, recorded_at FROM case_consents WHERE case_id = $1 AND purpose = $2",
        case_id,
        purpose.value,
    )
    return Consent(given=row["given"], recorded_at=row["recorded_at"]) if row else None


async def put_consent(
    connection: Connection,
    *,
    tenant_id: UUID,
    case_id: UUID,
    purpose: ConsentPurpose,
    consent: Consent,
    event_id: str,
) -> None:
    await connection.execute(
        """INSERT INTO case_consents (tenant_id, case_id, purpose, given, recorded_at, event_id)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (case_id, purpose)
           DO UPDATE SET given = excluded.given, recorded_at = excluded.recorded_at,
                         event_id = excluded.event_id""",
        tenant_id,
        case_id,
        purpose.value,
        consent.given,
        consent.recorded_at,
        event_id,
    )


async def staff_office(connection: Connection, staff_id: UUID) -> tuple[bool, UUID | None]:
    """Whether a current (not removed) staff member of the tenant exists, and their office."""

    row = await connection.fetchrow(
        "SELECT office_id FROM staff WHERE staff_id = $1 AND removed_at IS NULL", staff_id
    )
    return (row is not None, row["office_id"] if row else None)


async def staff_of_key(connection: Connection, key_id: str) -> UUID | None:
    """The staff member an API key was issued to, if any (a token names only the key)."""

    staff_id: UUID | None = await connection.fetchval(
        "SELECT staff_id FROM api_keys WHERE key_id = $1", key_id
    )
    return staff_id
