"""Recording the facts of a case: decisions, appeals, detention, permits, arrivals, contacts,
interviews (hearings are in case_hearings; consent, transfer and closing in case_status).

Every function runs in the caller's tenant transaction (see :mod:`.idempotency`): it locks
the case, checks the fact against the case's state (:mod:`refuge_intake.domain.cases`),
writes the state change, and appends the fact and its event through :func:`cases.record`;
a fact that changes nothing on the case does all of it in one statement
(:func:`cases.record_on_case`).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any
from uuid import UUID

from refuge_common.auth.principal import Principal
from refuge_common.contract import cases as facts
from refuge_common.contract.sealed import Sealed
from refuge_common.contract.vocabulary import (
    ContactChannel,
    ContactOutcome,
    Decision,
    DetentionEndReason,
    DetentionKind,
    Regime,
)
from refuge_common.crypto.keyring import Keyring
from refuge_common.crypto.sealing import seal
from refuge_common.db.pool import Connection
from refuge_intake.adapters import case_store
from refuge_intake.adapters.case_store import Case
from refuge_intake.adapters.case_writes import OwnTransaction
from refuge_intake.domain import cases as rules
from refuge_intake.domain.normalise import InvalidField
from refuge_intake.service_layer.cases import (
    Recorded,
    now,
    record,
    record_on_case,
    translated,
    writable_case,
)
from refuge_intake.service_layer.errors import NeedsTransaction


@translated
async def notify_decision(
    connection: Connection,
    principal: Principal,
    case_id: UUID,
    *,
    decision: Decision,
    regime: Regime | None,
    notified_at: datetime,
    timezone: str | None,
    jurisdiction: str | None,
    decided_on: date | None = None,
    own: OwnTransaction | None = None,
) -> Recorded:
    rules.not_in_future("notified_at", notified_at, now())
    if decided_on is not None and decided_on > notified_at.date():
        raise InvalidField("decided_on", "is after the notification")

    def decision_in(case_jurisdiction: str) -> facts.CaseDecisionNotified:
        return facts.CaseDecisionNotified(
            case_id=case_id,
            jurisdiction=jurisdiction or case_jurisdiction,
            decision=decision,
            regime=regime,
            notified_at=notified_at,
            timezone=timezone,
            decided_on=decided_on,
        )

    return await record_on_case(
        connection, principal, case_id, decision_in(jurisdiction) if jurisdiction else decision_in, own
    )


@translated
async def file_appeal(
    connection: Connection,
    principal: Principal,
    case_id: UUID,
    *,
    filed_at: datetime,
    decision: Decision | None,
    deadline_id: UUID | None,
    court: str | None,
    own: OwnTransaction | None = None,
) -> Recorded:
    rules.not_in_future("filed_at", filed_at, now())
    data = facts.CaseAppealFiled(
        case_id=case_id, filed_at=filed_at, decision=decision, deadline_id=deadline_id, court=court
    )
    return await record_on_case(connection, principal, case_id, data, own)


@translated
async def start_detention(
    connection: Connection,
    principal: Principal,
    case_id: UUID,
    *,
    started_at: datetime,
    kind: DetentionKind | None,
    facility: str | None,
) -> Recorded:
    rules.not_in_future("started_at", started_at, now())
    case = await writable_case(connection, principal, case_id)
    rules.check_detention_start(case.detained_since)
    case = dataclasses.replace(case, detained_since=started_at)
    await case_store.update_case(connection, case)
    data = facts.CaseDetentionStarted(case_id=case_id, started_at=started_at, kind=kind, facility=facility)
    return await record(connection, principal, case, data)


@translated
async def end_detention(
    connection: Connection,
    principal: Principal,
    case_id: UUID,
    *,
    ended_at: datetime,
    reason: DetentionEndReason | None,
) -> Recorded:
    rules.not_in_future("ended_at", ended_at, now())
    case = await writable_case(connection, principal, case_id)
    rules.check_detention_end(case.detained_since, ended_at)
    case = dataclasses.replace(case, detained_since=None)
    await case_store.update_case(connection, case)
    data = facts.CaseDetentionEnded(case_id=case_id, ended_at=ended_at, reason=reason)
    return await record(connection, principal, case, data)


async def _sealed_for_person(
    connection: Connection, keyring: Keyring, case: Case, field: str, payload: dict[str, Any]
) -> Sealed:
    """Free text and document numbers travel sealed under the key of the case's person,
    so that erasing the person shreds them wherever they went."""

    if case.person_id is None:
        raise InvalidField(field, "the case names no registered person whose key could seal it")
    key = await keyring.get(connection, case.person_id)
    if key is None:
        raise InvalidField(field, "the case's person was erased; nothing can be sealed for them")
    return seal(key, case.person_id, payload)


@translated
async def record_permit(
    connection: Connection,
    keyring: Keyring,
    principal: Principal,
    case_id: UUID,
    *,
    expires_on: date,
    issued_on: date | None,
    permit_kind: str | None,
    jurisdiction: str | None,
    document_number: str | None,
) -> Recorded:
    if issued_on is not None:
        rules.not_in_future("issued_on", issued_on, now())
        if issued_on > expires_on:
            raise InvalidField("issued_on", "is after expires_on")
    case = await writable_case(connection, principal, case_id)
    document = None
    if document_number is not None:
        document = await _sealed_for_person(
            connection, keyring, case, "document_number", {"document_number": document_number}
        )
    data = facts.CasePermitRecorded(
        case_id=case_id,
        expires_on=expires_on,
        issued_on=issued_on,
        permit_kind=permit_kind,
        jurisdiction=jurisdiction or case.jurisdiction,
        document=document,
    )
    return await record(connection, principal, case, data)


@translated
async def record_arrival(
    connection: Connection,
    principal: Principal,
    case_id: UUID,
    *,
    arrived_on: date,
    jurisdiction: str | None,
    own: OwnTransaction | None = None,
) -> Recorded:
    rules.not_in_future("arrived_on", arrived_on, now())

    def arrival_in(case_jurisdiction: str) -> facts.CaseArrivalRecorded:
        return facts.CaseArrivalRecorded(
            case_id=case_id, arrived_on=arrived_on, jurisdiction=jurisdiction or case_jurisdiction
        )

    return await record_on_case(
        connection, principal, case_id, arrival_in(jurisdiction) if jurisdiction else arrival_in, own
    )


@translated
async def log_contact(
    connection: Connection,
    keyring: Keyring,
    principal: Principal,
    case_id: UUID,
    *,
    channel: ContactChannel,
    outcome: ContactOutcome,
    contacted_at: datetime | None,
    staff_id: UUID | None,
    duration_minutes: int | None,
    notes: str | None,
) -> Recorded:
    contacted_at = contacted_at or now()
    rules.not_in_future("contacted_at", contacted_at, now())
    case = await writable_case(connection, principal, case_id)
    if staff_id is not None:
        exists, _office = await case_store.staff_office(connection, staff_id)
        if not exists:
            raise InvalidField("staff_id", "no such staff member")
    else:
        staff_id = await case_store.staff_of_key(connection, principal.key_id)
    sealed = await _sealed_for_person(connection, keyring, case, "notes", {"text": notes}) if notes else None
    data = facts.CaseContactLogged(
        case_id=case_id,
        channel=channel,
        outcome=outcome,
        contacted_at=contacted_at,
        office_id=principal.office_id or case.office_id,
        staff_id=staff_id,
        duration_minutes=duration_minutes,
        notes=sealed,
    )
    return await record(connection, principal, case, data)


@translated
async def hold_interview(
    connection: Connection,
    keyring: Keyring,
    principal: Principal,
    case_id: UUID,
    *,
    held_at: datetime,
    authority: str | None,
    notes: str | None,
    own: OwnTransaction | None = None,
) -> Recorded:
    rules.not_in_future("held_at", held_at, now())
    if not notes:
        data = facts.CaseInterviewHeld(case_id=case_id, held_at=held_at, authority=authority)
        return await record_on_case(connection, principal, case_id, data, own)
    if own is not None:
        raise NeedsTransaction  # the person's key is read first
    case = await writable_case(connection, principal, case_id)
    sealed = await _sealed_for_person(connection, keyring, case, "notes", {"text": notes})
    data = facts.CaseInterviewHeld(case_id=case_id, held_at=held_at, authority=authority, notes=sealed)
    return await record(connection, principal, case, data)
