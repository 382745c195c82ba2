"""Opening, reading and listing cases, and what every write to a case shares.

Writes take the connection of a tenant transaction opened by :func:`idempotency.run_once`:
the case, its fact (the timeline), its event (the outbox) and the Idempotency-Key record
commit together.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

import asyncpg

from refuge_common.auth.principal import Principal, Role
from refuge_common.contract.base import EventData
from refuge_common.contract.envelope import new_event
from refuge_common.db.pool import Connection, tenant_transaction
from refuge_intake.adapters import (
    case_queries,
    case_store,
    case_writes,
    litigation_store,
)
from refuge_intake.adapters.case_store import Case
from refuge_intake.adapters.case_writes import OwnTransaction
from refuge_intake.domain import cases as rules
from refuge_intake.domain.case_search import CaseFilters, Cursor
from refuge_intake.domain.cases import CaseStatus, FactConflict
from refuge_intake.domain.litigation import Litigation
from refuge_intake.domain.normalise import InvalidField
from refuge_intake.schema import SOURCE
from refuge_intake.service_layer import write_hints
from refuge_intake.service_layer.errors import Conflict, Forbidden, NeedsTransaction, NotFound, Rejected


@dataclass(frozen=True)
class Recorded:
    """A fact written to a case: its event, and the case as the fact left it; ``payload``
    is ``data`` as JSON (dumped once for the timeline, the event and the answer)."""

    event_id: str
    data: EventData
    case: Case
    payload: dict[str, Any]


@dataclass(frozen=True)
class CaseRecord:
    case: Case
    timeline: list[dict[str, Any]]
    litigation: Litigation | None
    developments: list[dict[str, Any]]


P = ParamSpec("P")
R = TypeVar("R")


def translated(fact: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A fact's recording, with the domain's refusals in the service layer's terms
    (Rejected and Conflict: 422 and 409 at the edge)."""

    @functools.wraps(fact)
    async def recording(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fact(*args, **kwargs)
        except FactConflict as error:
            raise Conflict(error.field, error.reason) from error
        except InvalidField as error:
            raise Rejected(error.field, error.reason) from error

    return recording


def now() -> datetime:
    return datetime.now(UTC)


def may_see(principal: Principal, case: Case) -> bool:
    """Caseworkers bound to an office see that office's cases; others the organisation's."""

    if principal.role is Role.OPERATOR:
        return False
    if principal.office_id is not None and principal.role is Role.CASEWORKER:
        return case.office_id == principal.office_id
    return True


def office_scope(principal: Principal) -> UUID | None:
    """The one office whose cases the caller may list, or None for the whole organisation."""

    return principal.office_id if principal.role is Role.CASEWORKER else None


async def case_record(pool: asyncpg.Pool, principal: Principal, case_id: UUID) -> CaseRecord:
    async with tenant_transaction(pool, principal.organisation_id) as connection:
        case = await case_store.get_case(connection, case_id)
        if case is None or not may_see(principal, case):
            raise NotFound(f"case {case_id} not found")
        return CaseRecord(
            case=case,
            timeline=await case_store.timeline(connection, case_id),
            litigation=await litigation_store.get_litigation(connection, case_id),
            developments=await litigation_store.developments(connection, case_id),
        )


async def list_cases(
    pool: asyncpg.Pool, principal: Principal, filters: CaseFilters, *, cursor: str | None, limit: int
) -> tuple[list[Case], Cursor | None]:
    """One page of the cases the caller may see, and the cursor of the next page (None on the last)."""

    if principal.role is Role.OPERATOR:
        raise Forbidden("role: an operator watches streams and health, not cases")
    try:
        after = Cursor.decode(cursor) if cursor is not None else None
    except InvalidField as error:
        raise Rejected(error.field, error.reason) from error
    async with tenant_transaction(pool, principal.organisation_id) as connection:
        # One row more than asked says whether another page follows.
        found = await case_queries.list_cases(
            connection, filters, office_scope=office_scope(principal), after=after, limit=limit + 1
        )
    page = found[:limit]
    following = Cursor(page[-1].opened_at, page[-1].case_id) if len(found) > limit else None
    return page, following


async def writable_case(
    connection: Connection, principal: Principal, case_id: UUID, *, closed_ok: bool = False
) -> Case:
    """The case, locked until the transaction ends: writes to one case are serial, which
    keeps its events in commit order in the outbox. ``closed_ok`` for the facts a closed
    case still takes (:func:`rules.accepts_on_closed_case`, checked again in :func:`record`)."""

    case = await case_store.lock_case(connection, case_id)
    # Another tenant's case is invisible (RLS) and another office's is reported the
    # same way: a 404 says nothing about what exists elsewhere.
    if case is None or not may_see(principal, case):
        raise NotFound(f"case {case_id} not found")
    if case.status == CaseStatus.CLOSED and not closed_ok:
        raise Conflict("case_id", rules.CLOSED_CASE)
    return case


async def record(connection: Connection, principal: Principal, case: Case, data: EventData) -> Recorded:
    """Append the fact to the locked case's timeline and its event to the outbox."""

    try:
        rules.refuse_if_closed(case.status, data)
    except FactConflict as error:
        raise Conflict(error.field, error.reason) from error
    envelope = new_event(SOURCE, data, case.tenant_id)
    payload = data.model_dump(mode="json")
    await case_store.append_fact(
        connection, case_id=case.case_id, fact=envelope, data=payload, recorded_by=principal.key_id
    )
    return Recorded(envelope.id, data, case, payload)


async def record_on_case(
    connection: Connection,
    principal: Principal,
    case_id: UUID,
    data: EventData | Callable[[str], EventData],
    own: OwnTransaction | None = None,
) -> Recorded:
    """:func:`writable_case` then :func:`record` in one statement, for a fact that changes
    nothing on the case: the statement locks the case, and appends the fact only if the
    case is one the caller may write to (its office) and takes the fact (not closed).
    With ``own``, that statement is the write's transaction (see ``case_writes``).

    ``data``: the fact, or how to build it from the case's jurisdiction; that one is kept
    from the case's opening or an earlier write (:mod:`.write_hints`), and without it the
    case is read first (in a tenant transaction: :class:`NeedsTransaction` with ``own``)."""

    if principal.role is Role.OPERATOR:
        raise NotFound(f"case {case_id} not found")
    build = data if callable(data) else None
    jurisdiction = write_hints.CASES.get(case_id) if build is not None else None
    if build is not None:
        if jurisdiction is None:
            if own is not None:
                raise NeedsTransaction
            case = await writable_case(connection, principal, case_id)
            write_hints.CASES.keep(case_id, case.jurisdiction)
            return await record(connection, principal, case, build(case.jurisdiction))
        data = build(jurisdiction)
    assert not callable(data)
    envelope = new_event(SOURCE, data, principal.organisation_id)
    payload = data.model_dump(mode="json")
    seen = await case_writes.append_fact_if(
        connection,
        case_id=case_id,
        fact=envelope,
        data=payload,
        recorded_by=principal.key_id,
        office_scope=office_scope(principal),
        closed_ok=rules.accepts_on_closed_case(data),
        case_jurisdiction=jurisdiction,
        own=own,
    )
    # The refusals writable_case and record give, for what the statement read; it wrote
    # nothing in these cases.
    if seen is None or not may_see(principal, seen.case):
        raise NotFound(f"case {case_id} not found")
    if seen.case.status == CaseStatus.CLOSED and not rules.accepts_on_closed_case(data):
        raise Conflict("case_id", rules.CLOSED_CASE)
    write_hints.CASES.keep(case_id, seen.case.jurisdiction)
    if not seen.written:  # the kept jurisdiction was not the case's (nothing was written)
        assert build is not None
        if own is not None:
            raise NeedsTransaction
        # In a transaction, the case is locked now.
        return await record(connection, principal, seen.case, build(seen.case.jurisdiction))
    return Recorded(envelope.id, data, seen.case, payload)
