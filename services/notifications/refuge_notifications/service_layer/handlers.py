"""How notifications applies events: read-models, and deliveries planned (not sent)."""

from __future__ import annotations

import uuid
from uuid import UUID

from refuge_common.contract.cases import CaseConsentRecorded, CaseOpened, CaseTransferred
from refuge_common.contract.deadlines import ReminderDue
from refuge_common.contract.directory import (
    OfficeOpened,
    OfficeUpdated,
    OrganisationRegistered,
    StaffRegistered,
    StaffRemoved,
    StaffUpdated,
)
from refuge_common.contract.envelope import Envelope
from refuge_common.contract.persons import PersonErased, PersonRegistered, PersonUpdated
from refuge_common.contract.vocabulary import (
    ConsentPurpose,
    NotificationChannel,
    RecipientKind,
    SuppressionReason,
)
from refuge_common.crypto.keyring import Keyring
from refuge_common.crypto.sealing import UnreadableData, open_sealed
from refuge_common.db.pool import Connection
from refuge_common.messaging.outbox import add_to_outbox
from refuge_common.observability.logging import get_logger
from refuge_notifications.adapters import store
from refuge_notifications.domain import policy
from refuge_notifications.domain.deliveries import PlannedDelivery
from refuge_notifications.domain.phones import phone_hash, to_e164
from refuge_notifications.service_layer import consents, events

log = get_logger(__name__)
CONSENT_CHANNELS = {ConsentPurpose.SMS: "sms", ConsentPurpose.EMAIL: "email"}


async def organisation_registered(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, OrganisationRegistered)
    await store.upsert_organisation(connection, data.organisation_id, data.name, data.default_language)


async def office_changed(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, OfficeOpened | OfficeUpdated)
    await store.upsert_office(connection, data.office_id, data.organisation_id, data.timezone)


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


# --- beneficiaries ---------------------------------------------------------------------


class PersonChangedHandler:
    """Keep the sealed copy as it came, and the keyed hash of the phone (the seal is opened
    in memory for that, never written in clear)."""

    def __init__(self, keyring: Keyring, phone_secret: bytes) -> None:
        self._keyring = keyring
        self._phone_secret = phone_secret

    async def __call__(self, connection: Connection, envelope: Envelope) -> None:
        data = envelope.data
        assert isinstance(data, PersonRegistered | PersonUpdated)
        if envelope.tenant_id is None:
            log.warning("person_event_without_tenant")
            return
        hashed = None
        if data.personal_data is not None:
            key = await self._keyring.get(connection, data.person_id)
            if key is not None:
                try:
                    phone = to_e164(open_sealed(key, data.personal_data).get("phone"))
                except UnreadableData:
                    phone = None
                hashed = phone_hash(self._phone_secret, phone) if phone else None
        await store.upsert_person(
            connection,
            person_id=data.person_id,
            tenant_id=envelope.tenant_id,
            preferred_language=data.preferred_language,
            timezone=data.timezone,
            personal_data=data.personal_data,
            phone_hash=hashed,
        )


class PersonErasedHandler:
    """Forget the person at once: contact copy, phone hash, consents, case links, the cached
    key; and any message planned for them and not yet being sent is not sent."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    async def __call__(self, connection: Connection, envelope: Envelope) -> None:
        data = envelope.data
        assert isinstance(data, PersonErased)
        self._keyring.forget(data.person_id)
        if envelope.tenant_id is None:
            log.warning("person_erased_without_tenant")
            return
        await store.forget_person(connection, data.person_id)
        stopped = await store.suppress_open_deliveries(
            connection, envelope.tenant_id, data.person_id, None, SuppressionReason.ERASED.value
        )
        await add_to_outbox(connection, events.suppressed(stopped, SuppressionReason.ERASED))


async def case_opened(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, CaseOpened)
    await store.link_case(connection, data.case_id, data.organisation_id, data.person_id, data.office_id)


async def case_transferred(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, CaseTransferred)
    if envelope.tenant_id is not None:
        await store.link_case(connection, data.case_id, envelope.tenant_id, None, data.office_id)


async def consent_recorded(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, CaseConsentRecorded)
    channel = CONSENT_CHANNELS.get(data.purpose)
    if channel is None or envelope.tenant_id is None:
        return
    person_id = data.person_id or (await store.case_person(connection, data.case_id))[0]
    if person_id is None:
        # Nobody to attribute it to: a case without a registered person gets no messages.
        log.warning("consent_without_person", purpose=data.purpose.value)
        return
    await consents.record(
        connection,
        envelope.tenant_id,
        person_id,
        channel,
        given=data.given,
        recorded_at=data.recorded_at,
        source=consents.CASE_EVENT,
        case_id=data.case_id,
    )


# --- reminders -------------------------------------------------------------------------


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
        overrides = await _overrides(connection)
        context = {
            "purpose": data.purpose.value,
            "case_id": str(data.case_id),
            "due": data.due.isoformat(),
            "timezone": data.timezone,
            "offset": data.offset,
        }
        rule = policy.Rule(policy.REMINDER_DUE, RecipientKind.CASEWORKER, NotificationChannel.EMAIL)
        if data.caseworker_id is not None and policy.enabled(rule, overrides):
            await store.plan_delivery(
                connection,
                self._planned(
                    envelope,
                    tenant,
                    data,
                    RecipientKind.CASEWORKER,
                    data.caseworker_id,
                    NotificationChannel.EMAIL,
                    "caseworker_reminder",
                    context,
                ),
            )

        person_id, case_office = data.person_id, None
        if person_id is None:
            person_id, case_office = await store.case_person(connection, data.case_id)
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
        for channel in (NotificationChannel.SMS, NotificationChannel.EMAIL):
            rule = policy.Rule(policy.REMINDER_DUE, RecipientKind.BENEFICIARY, channel)
            if not policy.enabled(rule, overrides):
                continue
            planned = self._planned(
                envelope,
                tenant,
                data,
                RecipientKind.BENEFICIARY,
                person_id,
                channel,
                "beneficiary_reminder",
                beneficiary_context,
            )
            reason = await self._refusal(connection, person_id, channel)
            if reason is None:
                await store.plan_delivery(connection, planned)
            elif await store.plan_delivery(connection, planned, status="suppressed", reason=reason.value):
                row = {**_row_of(planned), "tenant_id": tenant}
                await add_to_outbox(connection, events.suppressed([row], reason))

    async def _refusal(
        self, connection: Connection, person_id: UUID, channel: NotificationChannel
    ) -> SuppressionReason | None:
        if await self._keyring.get(connection, person_id) is None:
            return SuppressionReason.ERASED  # or never registered: either way, no one to write to
        consent = await store.get_consent(connection, person_id, channel.value)
        if consent is None:
            return SuppressionReason.NO_CONSENT
        return None if consent.given else SuppressionReason.OPTED_OUT

    @staticmethod
    def _planned(
        envelope: Envelope,
        tenant: UUID,
        data: ReminderDue,
        kind: RecipientKind,
        recipient: UUID,
        channel: NotificationChannel,
        template: str,
        context: dict[str, str],
    ) -> PlannedDelivery:
        return PlannedDelivery(
            delivery_id=uuid.uuid4(),
            tenant_id=tenant,
            trigger_event_id=envelope.id,
            trigger_source=envelope.source,
            channel=channel,
            recipient_kind=kind,
            recipient_id=recipient,
            template=template,
            context=context,
            case_id=data.case_id,
            deadline_id=data.deadline_id,
        )


async def _overrides(connection: Connection) -> dict[policy.Rule, bool]:
    found: dict[policy.Rule, bool] = {}
    for row in await store.policy_overrides(connection):
        try:
            rule = policy.Rule(
                row["trigger_name"], RecipientKind(row["recipient_kind"]), NotificationChannel(row["channel"])
            )
        except ValueError:
            continue
        found[rule] = row["enabled"]
    return found


def _row_of(planned: PlannedDelivery) -> dict[str, object]:
    return {
        "delivery_id": planned.delivery_id,
        "channel": planned.channel.value,
        "recipient_kind": planned.recipient_kind.value,
        "trigger_event_id": planned.trigger_event_id,
        "trigger_source": planned.trigger_source,
        "case_id": planned.case_id,
        "deadline_id": planned.deadline_id,
        "recipient_id": planned.recipient_id,
        "template": planned.template,
    }
