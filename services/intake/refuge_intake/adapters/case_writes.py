"""A case write's checks and its rows in one statement: the round trip that reads the office
or locks the case is the one that writes.

A write is bound by its round trips (BEGIN with the tenant and the key check, then this,
then COMMIT); each statement here reads what the service layer would otherwise have read
first, writes the fact and its outbox row only if what it read allows it, and returns
what it read so that the service layer refuses with the same answers as before. Both
statements write all of their rows or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from refuge_common.contract.envelope import Envelope
from refuge_common.db.pool import Connection
from refuge_common.messaging.outbox import OUTBOX_INSERT, outbox_row, require_transaction
from refuge_intake.adapters.case_store import COLUMNS, Case, case_values

_FACT_INSERT = "INSERT INTO case_facts (tenant_id, case_id, event_id, event_type, data, recorded_by)"
_FACT_VALUES = "$1, $2, $3, $4, $5, $6"
_EVENT_VALUES = "$7, $8, $9, $10, $11, $12, $13"
_CASE_VALUES = "$14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26"

# Under row-level security another tenant's office reads as absent. ``$27``: the
# jurisdiction the case and its event were built with when they took the office's, which
# must still be the office's (NULL when the caller named one).
_OPEN = f"""
WITH office AS (
    SELECT jurisdiction, closed_at IS NOT NULL AS closed FROM offices WHERE office_id = $16
), admitted AS (
    SELECT FROM office WHERE NOT closed AND ($27::text IS NULL OR jurisdiction = $27)
), opened AS (
    INSERT INTO cases ({COLUMNS}) SELECT {_CASE_VALUES} FROM admitted RETURNING case_id
), fact AS (
    {_FACT_INSERT} SELECT {_FACT_VALUES} FROM opened
), event AS (
    {OUTBOX_INSERT} SELECT {_EVENT_VALUES} FROM opened
)
SELECT office.jurisdiction, office.closed, EXISTS (SELECT FROM opened) AS written
FROM (VALUES (true)) AS one LEFT JOIN office ON true"""


@dataclass(frozen=True)
class OfficeSeen:
    """The office as the opening statement read it; ``written``: the case was opened."""

    found: bool
    closed: bool
    jurisdiction: str | None
    written: bool


async def open_case(
    connection: Connection,
    *,
    case: Case,
    fact: Envelope,
    data: dict[str, Any],
    recorded_by: str,
    office_jurisdiction: str | None,
) -> OfficeSeen:
    """Insert the case, its opening fact and its event if the case's office is the tenant's
    and open, and (when ``office_jurisdiction`` is given, the one the case took) still has
    that jurisdiction."""

    require_transaction(connection)
    assert fact.tenant_id is not None, "a case's fact belongs to its organisation"
    row = await connection.fetchrow(
        _OPEN,
        fact.tenant_id,
        case.case_id,
        fact.id,
        fact.type,
        data,
        recorded_by,
        *outbox_row(fact, data),
        *case_values(case),
        office_jurisdiction,
    )
    assert row is not None
    return OfficeSeen(
        row["jurisdiction"] is not None, bool(row["closed"]), row["jurisdiction"], row["written"]
    )


# The lock is taken as the case is read (FOR UPDATE): writes to one case stay serial, and
# its events in commit order in the outbox. The guard repeats what the service layer
# checks on the case it is given back: ``$14`` the one office the caller may write in
# (NULL: any), ``$15`` whether a closed case takes this fact, ``$16`` the jurisdiction
# the fact was built with when it took the case's (NULL: it did not).
_APPEND = f"""
WITH target AS (
    SELECT {COLUMNS} FROM cases WHERE case_id = $2 FOR UPDATE
), admitted AS (
    SELECT case_id FROM target
    WHERE ($14::uuid IS NULL OR office_id = $14)
      AND (status <> 'closed' OR $15::boolean)
      AND ($16::text IS NULL OR jurisdiction = $16)
), fact AS (
    {_FACT_INSERT} SELECT {_FACT_VALUES} FROM admitted RETURNING true
), event AS (
    {OUTBOX_INSERT} SELECT {_EVENT_VALUES} FROM admitted
)
SELECT {COLUMNS}, EXISTS (SELECT FROM fact) AS written FROM target"""


@dataclass(frozen=True)
class CaseSeen:
    """The case as the fact's statement read and locked it; ``written``: the fact was appended."""

    case: Case
    written: bool


async def append_fact_if(
    connection: Connection,
    *,
    case_id: UUID,
    fact: Envelope,
    data: dict[str, Any],
    recorded_by: str,
    office_scope: UUID | None,
    closed_ok: bool,
    case_jurisdiction: str | None,
) -> CaseSeen | None:
    """Lock the case and append the fact and its event if the guard admits them (see
    ``_APPEND``); None if the tenant has no such case."""

    require_transaction(connection)
    assert fact.tenant_id is not None, "a case's fact belongs to its organisation"
    row = await connection.fetchrow(
        _APPEND,
        fact.tenant_id,
        case_id,
        fact.id,
        fact.type,
        data,
        recorded_by,
        *outbox_row(fact, data),
        office_scope,
        closed_ok,
        case_jurisdiction,
    )
    if row is None:
        return None
    fields = dict(row)
    written = fields.pop("written")
    return CaseSeen(Case(**fields), written)
