"""Facts that decide who holds a case and whether it goes on: consent, transfer, closing."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from uuid import UUID

from refuge_common.auth.principal import Principal
from refuge_common.contract import cases as facts
from refuge_common.contract.vocabulary import CaseOutcome, ConsentPurpose
from refuge_common.db.pool import Connection
from refuge_intake.adapters import case_store, directory_store
from refuge_intake.domain import cases as rules
from refuge_intake.domain.cases import CaseStatus, Consent
from refuge_intake.domain.normalise import InvalidField
from refuge_intake.service_layer.cases import Recorded, now, record, translated, writable_case


@translated
async def record_consent(
    connection: Connection,
    principal: Principal,
    case_id: UUID,
    *,
    purpose: ConsentPurpose,
    given: bool,
    recorded_at: datetime | None,
) -> Recorded:
    recorded_at = recorded_at or now()
    rules.not_in_future("recorded_at", recorded_at, now())
    # A withdrawal is taken even on a closed case (rules.accepts_on_closed_case).
    case = await writable_case(connection, principal, case_id, closed_ok=not given)
    rules.check_consent_order(await case_store.get_consent(connection, case_id, purpose), recorded_at)
    data = facts.CaseConsentRecorded(
        case_id=case_id, purpose=purpose, given=given, recorded_at=recorded_at, person_id=case.person_id
    )
    recorded = await record(connection, principal, case, data)
    await case_store.put_consent(
        connection,
        tenant_id=case.tenant_id,
        case_id=case_id,
        purpose=purpose,
        consent=Consent(given=given, recorded_at=recorded_at),
        event_id=recorded.event_id,
    )
    return recorded


@translated
async def transfer(
    connection: Connection,
    principal: Principal,
    case_id: UUID,
    *,
    office_id: UUID,
    caseworker_id: UUID | None,
) -> Recorded:
    case = await writable_case(connection, principal, case_id)
    rules.check_transfer(case.office_id, office_id)
    # Row-level security: another organisation's office reads as absent.
    office = await directory_store.get_office(connection, office_id)
    if office is None:
        raise InvalidField("office_id", "no such office in this organisation")
    if office.closed:
        raise InvalidField("office_id", "the office is closed")
    if caseworker_id is not None:
        exists, staff_office = await case_store.staff_office(connection, caseworker_id)
        if not exists:
            raise InvalidField("caseworker_id", "no such staff member")
        if staff_office is not None and staff_office != office_id:
            raise InvalidField("caseworker_id", "works in another office than the one taking the case")
    # Without a new caseworker the case keeps its own, as deadlines' copy of it does.
    moved = dataclasses.replace(case, office_id=office_id, caseworker_id=caseworker_id or case.caseworker_id)
    await case_store.update_case(connection, moved)
    data = facts.CaseTransferred(
        case_id=case_id, office_id=office_id, previous_office_id=case.office_id, caseworker_id=caseworker_id
    )
    return await record(connection, principal, moved, data)


@translated
async def close(
    connection: Connection,
    principal: Principal,
    case_id: UUID,
    *,
    outcome: CaseOutcome,
    closed_at: datetime | None,
) -> Recorded:
    closed_at = closed_at or now()
    rules.not_in_future("closed_at", closed_at, now())
    case = await writable_case(connection, principal, case_id)
    rules.not_before("closed_at", closed_at, case.opened_at, "the opening of the case")
    consent = await case_store.get_consent(connection, case_id, rules.RETURN_CONSENT)
    rules.check_departure(case.case_type, outcome, consent)
    data = facts.CaseClosed(case_id=case_id, outcome=outcome, closed_at=closed_at)
    recorded = await record(connection, principal, case, data)
    closed = dataclasses.replace(case, status=CaseStatus.CLOSED, closed_at=closed_at, outcome=outcome)
    await case_store.update_case(connection, closed)
    return dataclasses.replace(recorded, case=closed)
