"""reminder.due: the caseworker and the beneficiary reminded of a coming deadline."""

from __future__ import annotations

from refuge_common.contract.deadlines import ReminderDue
from refuge_common.contract.envelope import Envelope
from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind
from refuge_common.crypto.keyring import Keyring
from refuge_common.db.pool import Connection
from refuge_notifications.adapters import beneficiaries, delivery_log
from refuge_notifications.domain import policy
from refuge_notifications.domain.message_values import BENEFICIARY_REMINDER, CASEWORKER_REMINDER
from refuge_notifications.service_layer import planning


class ReminderDueHandler:
    """Plan each message the organisation's policy asks for; the dispatcher sends them after
    this commits. A beneficiary message that may not be sent (no consent, withdrawn, erased)
    is written to the log as suppressed, with a ``notification.suppressed`` event."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    async def __call__(self, connection: Connection, envelope: Envelope) -> None:
        data = envelope.data
        assert isinstance(data, ReminderDue)
        tenant = envelope.tenant_id
        if tenant is None:
            return
        overrides = await planning.overrides(connection)
        context = {
            "purpose": data.purpose.value,
            "case_id": str(data.case_id),
            "due": data.due.isoformat(),
            "timezone": data.timezone,
            "offset": data.offset,
        }
        rule = policy.Rule(policy.REMINDER_DUE, RecipientKind.CASEWORKER, NotificationChannel.EMAIL)
        if data.caseworker_id is not None and policy.enabled(rule, overrides):
            await delivery_log.plan_delivery(
                connection,
                planning.planned(
                    envelope,
                    tenant,
                    RecipientKind.CASEWORKER,
                    data.caseworker_id,
                    NotificationChannel.EMAIL,
                    CASEWORKER_REMINDER,
                    context,
                    case_id=data.case_id,
                    deadline_id=data.deadline_id,
                ),
            )

        person_id, case_office = data.person_id, None
        if person_id is None:
            person_id, case_office = await beneficiaries.case_person(connection, data.case_id)
        if person_id is None:
            return
        office_id = data.office_id or case_office
        beneficiary_context = {
            "purpose": data.purpose.value,
            "due": data.due.isoformat(),
            "timezone": data.timezone,
            "offset": data.offset,
            "office_id": str(office_id) if office_id else "",
        }
        for channel in planning.BENEFICIARY_CHANNELS:
            rule = policy.Rule(policy.REMINDER_DUE, RecipientKind.BENEFICIARY, channel)
            if not policy.enabled(rule, overrides):
                continue
            planned = planning.planned(
                envelope,
                tenant,
                RecipientKind.BENEFICIARY,
                person_id,
                channel,
                BENEFICIARY_REMINDER,
                beneficiary_context,
                case_id=data.case_id,
                deadline_id=data.deadline_id,
            )
            await planning.plan_for_beneficiary(connection, self._keyring, planned)
