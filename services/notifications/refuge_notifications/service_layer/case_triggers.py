"""Hearings told to the beneficiary; deadlines kept per office, and a missed one told to the
caseworker and the coordinators at once."""

from __future__ import annotations

from typing import Any

from refuge_common.contract.cases import CaseHearingCancelled, CaseHearingRescheduled, CaseHearingScheduled
from refuge_common.contract.deadlines import (
    DeadlineCancelled,
    DeadlineComputed,
    DeadlineMet,
    DeadlineMissed,
    DeadlineUpdated,
)
from refuge_common.contract.envelope import Envelope
from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind
from refuge_common.crypto.keyring import Keyring
from refuge_common.db.pool import Connection
from refuge_common.observability.logging import get_logger
from refuge_notifications.adapters import beneficiaries, case_copy, delivery_log, directory_copy
from refuge_notifications.domain import policy
from refuge_notifications.domain.message_values import BENEFICIARY_HEARING, DEADLINE_MISSED
from refuge_notifications.service_layer import planning

log = get_logger(__name__)


class HearingChangedHandler:
    """case.hearing_scheduled / _rescheduled / _cancelled: the beneficiary is told the new
    date (or which date is cancelled), on each channel the policy and their consent allow."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    async def __call__(self, connection: Connection, envelope: Envelope) -> None:
        data = envelope.data
        assert isinstance(data, CaseHearingScheduled | CaseHearingRescheduled | CaseHearingCancelled)
        tenant = envelope.tenant_id
        if tenant is None:
            return
        if isinstance(data, CaseHearingCancelled):
            hearing = await case_copy.get_hearing(connection, data.hearing_id)
            if hearing is None:  # never told of it: nothing to take back
                log.warning("hearing_cancelled_unknown", hearing_id=str(data.hearing_id))
                return
            change, moment, zone, court = "cancelled", hearing.scheduled_at, hearing.timezone, hearing.court
            await case_copy.hearing_cancelled(connection, data.hearing_id, envelope.id)
        else:
            court = data.court if isinstance(data, CaseHearingScheduled) else None
            await case_copy.upsert_hearing(
                connection,
                data.hearing_id,
                tenant,
                data.case_id,
                data.scheduled_at,
                data.timezone,
                court,
                envelope.id,
            )
            hearing = await case_copy.get_hearing(connection, data.hearing_id)
            assert hearing is not None
            change = "scheduled" if isinstance(data, CaseHearingScheduled) else "rescheduled"
            moment, zone, court = data.scheduled_at, hearing.timezone, hearing.court

        person_id, office_id = await beneficiaries.case_person(connection, data.case_id)
        if person_id is None:
            return
        context: dict[str, Any] = {
            "change": change,
            "scheduled_at": moment.isoformat(),
            "timezone": zone or "",
            "office_id": str(office_id) if office_id else "",
            "court": court or "",
            "hearing_id": str(data.hearing_id),
            "hearing_event_id": envelope.id,
        }
        overrides = await planning.overrides(connection)
        trigger = policy.HEARING_TRIGGERS[change]
        for channel in planning.BENEFICIARY_CHANNELS:
            if not policy.enabled(policy.Rule(trigger, RecipientKind.BENEFICIARY, channel), overrides):
                continue
            planned = planning.planned(
                envelope,
                tenant,
                RecipientKind.BENEFICIARY,
                person_id,
                channel,
                BENEFICIARY_HEARING,
                context,
                case_id=data.case_id,
            )
            await planning.plan_for_beneficiary(connection, self._keyring, planned)


async def deadline_changed(connection: Connection, envelope: Envelope) -> None:
    """deadline.computed / .updated: the office's list of coming deadlines (weekly digest)."""

    data = envelope.data
    assert isinstance(data, DeadlineComputed | DeadlineUpdated)
    if envelope.tenant_id is None:
        return
    office_id = data.office_id or (await beneficiaries.case_person(connection, data.case_id))[1]
    await case_copy.upsert_deadline(
        connection,
        deadline_id=data.deadline_id,
        tenant_id=envelope.tenant_id,
        case_id=data.case_id,
        office_id=office_id,
        caseworker_id=data.caseworker_id,
        purpose=data.purpose.value,
        due=data.due,
        timezone=data.timezone,
    )


async def deadline_closed(connection: Connection, envelope: Envelope) -> None:
    """deadline.met / .cancelled: no longer in any digest."""

    data = envelope.data
    assert isinstance(data, DeadlineMet | DeadlineCancelled)
    state = "met" if isinstance(data, DeadlineMet) else "cancelled"
    await case_copy.settle_deadline(connection, data.deadline_id, state)


async def deadline_missed(connection: Connection, envelope: Envelope) -> None:
    """deadline.missed: an e-mail to the case's caseworker and to the coordinators of its
    office and of the organisation, each as the policy allows, sent as soon as planned."""

    data = envelope.data
    assert isinstance(data, DeadlineMissed)
    tenant = envelope.tenant_id
    if tenant is None:
        return
    await case_copy.settle_deadline(connection, data.deadline_id, "missed")
    known = await case_copy.get_deadline(connection, data.deadline_id)
    _person, office_id = await beneficiaries.case_person(connection, data.case_id)
    office_id = office_id or (known.office_id if known else None)
    caseworker = await beneficiaries.case_caseworker(connection, data.case_id)
    caseworker = caseworker or (known.caseworker_id if known else None)
    purpose = data.purpose.value if data.purpose else (known.purpose if known else "deadline")
    context: dict[str, Any] = {
        "purpose": purpose,
        "case_id": str(data.case_id),
        "due": data.due.isoformat(),
        "timezone": known.timezone if known else "UTC",
    }
    recipients = [(RecipientKind.CASEWORKER, caseworker)] if caseworker else []
    recipients += [
        (RecipientKind.COORDINATOR, staff_id)
        for staff_id in await directory_copy.coordinators_for(connection, office_id)
        if staff_id != caseworker  # one message to a coordinator who also holds the case
    ]
    overrides = await planning.overrides(connection)
    for kind, staff_id in recipients:
        rule = policy.Rule(policy.DEADLINE_MISSED, kind, NotificationChannel.EMAIL)
        if not policy.enabled(rule, overrides):
            continue
        planned = planning.planned(
            envelope,
            tenant,
            kind,
            staff_id,
            NotificationChannel.EMAIL,
            DEADLINE_MISSED,
            context,
            case_id=data.case_id,
            deadline_id=data.deadline_id,
        )
        await delivery_log.plan_delivery(connection, planned)
