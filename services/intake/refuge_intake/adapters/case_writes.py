"""A case write's checks and its rows in one statement: the round trip that reads the office
or locks the case is the one that writes, and it may be the write's only one.

A write is bound by its round trips. Each statement here (a function of migration 0008)
reads what the service layer would otherwise have read first, writes the fact and its
outbox row only if what it read allows it, and returns what it read so that the service
layer refuses with the same answers as before: it writes all of its rows or none. It runs
in a tenant transaction, or as its own (:class:`OwnTransaction`): one round trip instead of
three, and nothing the service layer refuses after it was written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from refuge_common.contract.envelope import Envelope
from refuge_common.db.pool import Connection
from refuge_common.messaging.outbox import outbox_row, require_transaction
from refuge_intake.adapters.case_store import Case

_OPEN = f"SELECT jurisdiction, closed, written FROM open_case_if({', '.join(f'${n}' for n in range(1, 26))})"
_APPEND = f"SELECT * FROM append_fact_if({', '.join(f'${n}' for n in range(1, 20))})"


@dataclass(frozen=True)
class OwnTransaction:
    """The statement is its own transaction (no BEGIN or COMMIT around it): it begins as
    ``tenant_transaction`` begins one, with the tenant, the key's check when ``check_key``
    and the outbox nudge when ``nudged`` (``begin_write``, migration 0008)."""

    tenant_id: UUID
    check_key: str | None
    nudged: bool


def _begin(connection: Connection, own: OwnTransaction | None) -> tuple[Any, ...]:
    if own is None:
        require_transaction(connection)
        return (None, None, False)
    # Outside a transaction, the statement commits itself (or nothing, on an error).
    assert not connection.is_in_transaction(), "a statement of its own transaction runs outside one"
    return (own.tenant_id, own.check_key, own.nudged)


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
    own: OwnTransaction | None = None,
) -> OfficeSeen:
    """Insert the case, its opening fact and its event if the case's office is the tenant's
    and open, and (when ``office_jurisdiction`` is given, the one the case took) still has
    that jurisdiction (``open_case_if``, migration 0008)."""

    begin = _begin(connection, own)
    assert fact.tenant_id is not None, "a case's fact belongs to its organisation"
    assert case.closed_at is None and case.outcome is None and case.detained_since is None
    row = await connection.fetchrow(
        _OPEN,
        fact.tenant_id,
        case.case_id,
        fact.id,
        fact.type,
        data,
        recorded_by,
        *outbox_row(fact, data),
        case.office_id,
        case.case_type,
        case.jurisdiction,
        case.channel,
        case.person_id,
        case.caseworker_id,
        case.status,
        case.opened_at,
        office_jurisdiction,
        *begin,
    )
    assert row is not None
    return OfficeSeen(
        row["jurisdiction"] is not None, bool(row["closed"]), row["jurisdiction"], row["written"]
    )


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
    own: OwnTransaction | None = None,
) -> CaseSeen | None:
    """Lock the case and append the fact and its event if the case is in ``office_scope``
    (None: any), takes the fact (not closed, or ``closed_ok``) and, when the fact took the
    case's jurisdiction, has ``case_jurisdiction`` (``append_fact_if``, migration 0008);
    None if the tenant has no such case."""

    begin = _begin(connection, own)
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
        *begin,
    )
    if row is None:
        return None
    fields = dict(row)
    written = fields.pop("written")
    return CaseSeen(Case(**fields), written)
