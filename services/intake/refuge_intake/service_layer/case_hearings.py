"""A case's hearings: scheduled (for a future instant), rescheduled, cancelled, held.

Each hearing keeps its id across its reschedulings (intake.case_hearings), so that a
change names a hearing the case has, in a state that allows it (domain.cases.hearing_after).
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from uuid import UUID

from refuge_common.auth.principal import Principal
from refuge_common.contract import cases as facts
from refuge_common.db.pool import Connection
from refuge_intake.adapters import case_store
from refuge_intake.adapters.case_store import Case, Hearing
from refuge_intake.domain import cases as rules
from refuge_intake.domain.cases import HearingChange, HearingStatus
from refuge_intake.domain.normalise import InvalidField
from refuge_intake.service_layer.cases import Recorded, now, record, translated, writable_case


@translated
async def schedule_hearing(
    connection: Connection,
    principal: Principal,
    case_id: UUID,
    *,
    scheduled_at: datetime,
    timezone: str | None,
    court: str | None,
) -> Recorded:
    rules.in_future("scheduled_at", scheduled_at, now())
    case = await writable_case(connection, principal, case_id)
    hearing = Hearing(uuid.uuid4(), case_id, scheduled_at, HearingStatus.SCHEDULED)
    await case_store.insert_hearing(connection, case.tenant_id, hearing)
    data = facts.CaseHearingScheduled(
        case_id=case_id,
        hearing_id=hearing.hearing_id,
        scheduled_at=scheduled_at,
        timezone=timezone,
        court=court,
    )
    return await record(connection, principal, case, data)


async def _change_hearing(
    connection: Connection, case: Case, hearing_id: UUID, change: HearingChange, scheduled_at: datetime | None
) -> Hearing:
    hearing = await case_store.get_hearing(connection, case.case_id, hearing_id)
    if hearing is None:
        raise InvalidField("hearing_id", "no such hearing on this case")
    changed = dataclasses.replace(
        hearing,
        status=rules.hearing_after(hearing.status, change),
        scheduled_at=scheduled_at or hearing.scheduled_at,
    )
    await case_store.update_hearing(connection, changed)
    return hearing


@translated
async def reschedule_hearing(
    connection: Connection,
    principal: Principal,
    case_id: UUID,
    *,
    hearing_id: UUID,
    scheduled_at: datetime,
    timezone: str | None,
) -> Recorded:
    rules.in_future("scheduled_at", scheduled_at, now())
    case = await writable_case(connection, principal, case_id)
    before = await _change_hearing(connection, case, hearing_id, HearingChange.RESCHEDULE, scheduled_at)
    data = facts.CaseHearingRescheduled(
        case_id=case_id,
        hearing_id=hearing_id,
        scheduled_at=scheduled_at,
        previous_scheduled_at=before.scheduled_at,
        timezone=timezone,
    )
    return await record(connection, principal, case, data)


@translated
async def cancel_hearing(
    connection: Connection, principal: Principal, case_id: UUID, *, hearing_id: UUID
) -> Recorded:
    case = await writable_case(connection, principal, case_id)
    await _change_hearing(connection, case, hearing_id, HearingChange.CANCEL, None)
    data = facts.CaseHearingCancelled(case_id=case_id, hearing_id=hearing_id)
    return await record(connection, principal, case, data)


@translated
async def hold_hearing(
    connection: Connection, principal: Principal, case_id: UUID, *, hearing_id: UUID, held_at: datetime | None
) -> Recorded:
    if held_at is not None:
        rules.not_in_future("held_at", held_at, now())
    case = await writable_case(connection, principal, case_id)
    await _change_hearing(connection, case, hearing_id, HearingChange.HOLD, None)
    data = facts.CaseHearingHeld(case_id=case_id, hearing_id=hearing_id, held_at=held_at)
    return await record(connection, principal, case, data)
