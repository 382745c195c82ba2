"""Opening a case: the case, its opening fact and its event, in the caller's tenant
transaction (see :mod:`.idempotency`), in one statement that also checks the office."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from uuid import UUID

from refuge_common.auth.principal import Principal, Role
from refuge_common.contract.cases import CaseOpened
from refuge_common.contract.envelope import new_event
from refuge_common.contract.vocabulary import CaseType, ContactChannel
from refuge_common.db.pool import Connection
from refuge_intake.adapters import case_writes, directory_store, person_store
from refuge_intake.adapters.case_store import Case
from refuge_intake.adapters.case_writes import OwnTransaction
from refuge_intake.domain.cases import CaseStatus
from refuge_intake.schema import SOURCE
from refuge_intake.service_layer import write_hints
from refuge_intake.service_layer.errors import Conflict, Forbidden, NeedsTransaction, Rejected


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
    own: OwnTransaction | None = None,
) -> Case:
    """With ``own``, the opening statement is the write's transaction (see ``case_writes``),
    if nothing has to be read before it (:class:`NeedsTransaction` otherwise)."""

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
    # The jurisdiction of the office, when the case takes it: kept from an earlier opening
    # (the statement that opens checks it), or read. The office is read first too when
    # other checks follow, so that a request failing several still names the office.
    office_jurisdiction = None if jurisdiction else write_hints.OFFICES.get(office_id)
    if caseworker_id or person_id or (not jurisdiction and office_jurisdiction is None):
        if own is not None:
            raise NeedsTransaction
        read = await _open_office_jurisdiction(connection, office_id)
        office_jurisdiction = None if jurisdiction else read
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
        jurisdiction=jurisdiction or office_jurisdiction or "",  # one of them is set
        channel=channel,
        person_id=person_id,
        caseworker_id=caseworker_id,
        status=CaseStatus.OPEN,
        opened_at=datetime.now(UTC),
        closed_at=None,
    )
    # Twice at most: the office's jurisdiction kept in this process may be stale once.
    for _attempt in range(2):
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
        envelope = new_event(SOURCE, data, tenant)
        seen = await case_writes.open_case(
            connection,
            case=case,
            fact=envelope,
            data=data.model_dump(mode="json"),
            recorded_by=principal.key_id,
            office_jurisdiction=office_jurisdiction,
            own=own,
        )
        _refuse_office(seen.found, seen.closed, office_id)
        assert seen.jurisdiction is not None
        write_hints.OFFICES.keep(office_id, seen.jurisdiction)
        if seen.written:
            write_hints.CASES.keep(case.case_id, case.jurisdiction)
            return case
        # Not written: the office's jurisdiction is no longer the one kept. (Nothing was
        # written: with ``own`` the statement was a transaction of its own, committed.)
        office_jurisdiction = seen.jurisdiction
        case = dataclasses.replace(case, jurisdiction=office_jurisdiction)
    raise Conflict("office_id", "the office's jurisdiction changed while the case was opened; retry")


async def _open_office_jurisdiction(connection: Connection, office_id: UUID) -> str:
    office = await directory_store.get_office(connection, office_id)
    _refuse_office(office is not None, office is not None and office.closed, office_id)
    assert office is not None
    write_hints.OFFICES.keep(office_id, office.jurisdiction)
    return office.jurisdiction


def _refuse_office(found: bool, closed: bool, office_id: UUID) -> None:
    if not found:
        write_hints.OFFICES.forget(office_id)
        raise Rejected("office_id", "no such office")
    if closed:
        raise Rejected("office_id", "the office is closed")
