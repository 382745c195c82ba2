"""Opening cases and recording their facts: state, timeline and outbox in one transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from refuge_common.auth.principal import Principal, Role
from refuge_common.contract.base import EventData
from refuge_common.contract.cases import CaseDecisionNotified, CaseOpened
from refuge_common.contract.envelope import new_event
from refuge_common.contract.vocabulary import CaseType, ContactChannel, Decision, Regime
from refuge_common.db.pool import Connection, tenant_transaction
from refuge_common.messaging.outbox import add_to_outbox
from refuge_intake.adapters import case_store, directory_store, person_store
from refuge_intake.adapters.case_store import Case
from refuge_intake.schema import SOURCE
from refuge_intake.service_layer.errors import NotFound, Rejected


def may_see(principal: Principal, case: Case) -> bool:
    """Caseworkers bound to an office see that office's cases; others the organisation's."""

    if principal.role is Role.OPERATOR:
        return False
    if principal.office_id is not None and principal.role is Role.CASEWORKER:
        return case.office_id == principal.office_id
    return True


async def open_case(
    pool: asyncpg.Pool,
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
    if (
        principal.office_id is not None
        and principal.role is Role.CASEWORKER
        and office_id != principal.office_id
    ):
        raise Rejected("office_id", "a caseworker opens cases in their own office")
    async with tenant_transaction(pool, tenant) as connection:
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
            status="open",
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
        await case_store.insert_case(connection, case)
        await _record(connection, principal, case, data)
    return case


async def record_decision(
    pool: asyncpg.Pool,
    principal: Principal,
    case_id: UUID,
    *,
    decision: Decision,
    regime: Regime | None,
    notified_at: datetime,
    timezone: str | None,
    jurisdiction: str | None,
) -> str:
    async with tenant_transaction(pool, principal.organisation_id) as connection:
        case = await _writable_case(connection, principal, case_id)
        data = CaseDecisionNotified(
            case_id=case_id,
            jurisdiction=jurisdiction or case.jurisdiction,
            decision=decision,
            regime=regime,
            notified_at=notified_at,
            timezone=timezone,
        )
        return await _record(connection, principal, case, data)


async def case_with_timeline(
    pool: asyncpg.Pool, principal: Principal, case_id: UUID
) -> tuple[Case, list[dict[str, object]]]:
    async with tenant_transaction(pool, principal.organisation_id) as connection:
        case = await case_store.get_case(connection, case_id)
        if case is None or not may_see(principal, case):
            raise NotFound(f"case {case_id} not found")
        return case, await case_store.timeline(connection, case_id)


async def _writable_case(connection: Connection, principal: Principal, case_id: UUID) -> Case:
    case = await case_store.lock_case(connection, case_id)
    # Another tenant's case is invisible (RLS) and another office's is reported the
    # same way: a 404 says nothing about what exists elsewhere.
    if case is None or not may_see(principal, case):
        raise NotFound(f"case {case_id} not found")
    if case.status == "closed":
        raise Rejected("case_id", "the case is closed")
    return case


async def _record(connection: Connection, principal: Principal, case: Case, data: EventData) -> str:
    envelope = new_event(SOURCE, data, case.tenant_id)
    await case_store.append_fact(
        connection,
        tenant_id=case.tenant_id,
        case_id=case.case_id,
        event_id=envelope.id,
        event_type=envelope.type,
        data=data.model_dump(mode="json"),
        recorded_by=principal.key_id,
    )
    await add_to_outbox(connection, [envelope])
    return envelope.id
