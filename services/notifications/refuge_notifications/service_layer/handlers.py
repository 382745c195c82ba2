"""How notifications applies events: read-models, and deliveries planned (not sent)."""

from __future__ import annotations

import uuid

from refuge_common.contract.deadlines import ReminderDue
from refuge_common.contract.directory import (
    OrganisationRegistered,
    StaffRegistered,
    StaffRemoved,
    StaffUpdated,
)
from refuge_common.contract.envelope import Envelope
from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind
from refuge_common.crypto.keyring import Keyring
from refuge_common.db.pool import Connection
from refuge_notifications.adapters import store
from refuge_notifications.domain.deliveries import PlannedDelivery


async def organisation_registered(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, OrganisationRegistered)
    await store.upsert_organisation(connection, data.organisation_id, data.name, data.default_language)


async def staff_changed(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, StaffRegistered | StaffUpdated)
    await store.upsert_staff(
        connection,
        staff_id=data.staff_id,
        tenant_id=data.organisation_id,
        office_id=data.office_id,
        role=data.role.value,
        preferred_language=data.preferred_language,
        timezone=data.timezone,
        contact=data.contact,
    )


class StaffRemovedHandler:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    async def __call__(self, connection: Connection, envelope: Envelope) -> None:
        data = envelope.data
        assert isinstance(data, StaffRemoved)
        await store.delete_staff(connection, data.staff_id)
        self._keyring.forget(data.staff_id)


async def reminder_due(connection: Connection, envelope: Envelope) -> None:
    """Plan the caseworker's e-mail; the dispatcher sends it after this commits."""

    data = envelope.data
    assert isinstance(data, ReminderDue)
    if data.caseworker_id is None or envelope.tenant_id is None:
        return
    await store.plan_delivery(
        connection,
        PlannedDelivery(
            delivery_id=uuid.uuid4(),
            tenant_id=envelope.tenant_id,
            trigger_event_id=envelope.id,
            trigger_source=envelope.source,
            channel=NotificationChannel.EMAIL,
            recipient_kind=RecipientKind.CASEWORKER,
            recipient_id=data.caseworker_id,
            template="caseworker_reminder",
            context={
                "purpose": data.purpose.value,
                "case_id": str(data.case_id),
                "due": data.due.isoformat(),
                "timezone": data.timezone,
                "offset": data.offset,
            },
            case_id=data.case_id,
            deadline_id=data.deadline_id,
        ),
    )
