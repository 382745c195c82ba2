"""Opening, reading and listing cases, and what every write to a case shares.

Writes take the connection of a tenant transaction opened by :func:`idempotency.run_once`:
the case, its fact (the timeline), its event (the outbox) and the Idempotency-Key record
commit together.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

import asyncpg

from refuge_common.auth.principal import Principal, Role
from refuge_common.contract.base import EventData
from refuge_common.contract.cases import CaseOpened
from refuge_common.contract.envelope import new_event
from refuge_common.contract.vocabulary import CaseType, ContactChannel
from refuge_common.db.pool import Connection, tenant_transaction
from refuge_intake.adapters import case_queries, case_store, directory_store, litigation_store, person_store
from refuge_intake.adapters.case_store import Case
from refuge_intake.domain import cases as rules
from refuge_intake.domain.case_search import CaseFilters, Cursor
from refuge_intake.domain.cases import CaseStatus, FactConflict
from refuge_intake.domain.litigation import Litigation
from refuge_intake.domain.normalise import InvalidField
from refuge_intake.schema import SOURCE
from refuge_intake.service_layer.errors import Conflict, Forbidden, NotFound, Rejected


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


async def open_case(
    connection: Connection,
    principal: Principal,
    *,
    office_id: UUID | None,
    case_type: CaseType,
    channel: ContactChannel,
    jurisdiction: str | None,
    person_id: UUID | None,
    caseworker_id: UUID | None,
) -> Case:
    tenant = principal.organisation_id
    office_id = office_id or principal.office_id
    if office_id is None:
        raise Rejected("office_id", "required for a key that is not bound to an office")
    if principal.role is Role.OPERATOR:
        raise Forbidden("role: an operator watches streams and health, not cases")
    if (
        principal.office_id is not None
        and principal.role is Role.CASEWORKER
        and office_id != principal.office_id
    ):
        raise Rejected("office_id", "a caseworker opens cases in their own office")
    office = await directory_store.get_office(connection, office_id)
    if office is None:
        raise Rejected("office_id", "no such office")
    if office.closed:
        raise Rejected("office_id", "the office is closed")
    if caseworker_id is not None and not await directory_store.staff_exists(connection, caseworker_id):
        raise Rejected("caseworker_id", "no such staff member")
    if person_id is not None:
        # RLS confines the lookup to the caller's organisation: another tenant's
        # person reads as absent, like one that never existed.
        person = await person_store.status(connection, person_id)
        if person is None:
            raise Rejected("person_id", "no such person in this organisation")
        if person == "erased":
            raise Rejected("person_id", "the person was erased")
    case = Case(
        case_id=uuid.uuid4(),
        tenant_id=tenant,
        office_id=office_id,
        case_type=case_type,
        jurisdiction=jurisdiction or office.jurisdiction,
        channel=channel,
        person_id=person_id,
        caseworker_id=caseworker_id,
        status=CaseStatus.OPEN,
        opened_at=datetime.now(UTC),
        closed_at=None,
    )
    data = CaseOpened(
        case_id=case.case_id,
        organisation_id=tenant,
        office_id=office_id,
        case_type=case_type,
        jurisdiction=case.jurisdiction,
        channel=channel,
        opened_at=case.opened_at,
        person_id=person_id,
        caseworker_id=caseworker_id,
    )
    await record(connection, principal, case, data, opening=True)
    return case


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


async def record(
    connection: Connection, principal: Principal, case: Case, data: EventData, *, opening: bool = False
) -> Recorded:
    """Append the fact to the case's timeline and its event to the outbox; with
    ``opening``, insert the case too (all in one statement)."""

    try:
        rules.refuse_if_closed(case.status, data)
    except FactConflict as error:
        raise Conflict(error.field, error.reason) from error
    envelope = new_event(SOURCE, data, case.tenant_id)
    payload = data.model_dump(mode="json")
    await case_store.append_fact(
        connection,
        case_id=case.case_id,
        fact=envelope,
        data=payload,
        recorded_by=principal.key_id,
        opening=case if opening else None,
    )
    return Recorded(envelope.id, data, case, payload)
