"""How notifications applies events: read-models, and deliveries planned (not sent)."""

from __future__ import annotations

from refuge_common.contract.cases import CaseConsentRecorded, CaseOpened, CaseTransferred
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
    SuppressionReason,
)
from refuge_common.crypto.keyring import Keyring
from refuge_common.crypto.sealing import UnreadableData, open_sealed
from refuge_common.db.pool import Connection
from refuge_common.messaging.outbox import add_to_outbox
from refuge_common.observability.logging import get_logger
from refuge_notifications import metrics
from refuge_notifications.adapters import (
    beneficiaries,
    case_copy,
    delivery_log,
    directory_copy,
)
from refuge_notifications.domain.phones import phone_hash, to_e164
from refuge_notifications.service_layer import consents, events

log = get_logger(__name__)
CONSENT_CHANNELS = {ConsentPurpose.SMS: "sms", ConsentPurpose.EMAIL: "email"}


async def organisation_registered(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, OrganisationRegistered)
    await directory_copy.upsert_organisation(
        connection, data.organisation_id, data.name, data.default_language
    )


async def office_changed(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, OfficeOpened | OfficeUpdated)
    await directory_copy.upsert_office(connection, data.office_id, data.organisation_id, data.timezone)


async def staff_changed(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, StaffRegistered | StaffUpdated)
    await directory_copy.upsert_staff(
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
        await directory_copy.delete_staff(connection, data.staff_id)
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
        await beneficiaries.upsert_person(
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
        await beneficiaries.forget_person(connection, data.person_id)
        stopped = await delivery_log.suppress_open_deliveries(
            connection, envelope.tenant_id, data.person_id, None, SuppressionReason.ERASED.value
        )
        await add_to_outbox(connection, events.suppressed(stopped, SuppressionReason.ERASED))
        for row in stopped:
            metrics.count_final(row["channel"], "suppressed")


async def case_opened(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, CaseOpened)
    await beneficiaries.link_case(
        connection, data.case_id, data.organisation_id, data.person_id, data.office_id, data.caseworker_id
    )


async def case_transferred(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, CaseTransferred)
    if envelope.tenant_id is not None:
        await beneficiaries.link_case(
            connection, data.case_id, envelope.tenant_id, None, data.office_id, data.caseworker_id
        )
        await case_copy.move_case_deadlines(connection, data.case_id, data.office_id)


async def consent_recorded(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, CaseConsentRecorded)
    channel = CONSENT_CHANNELS.get(data.purpose)
    if channel is None or envelope.tenant_id is None:
        return
    person_id = data.person_id or (await beneficiaries.case_person(connection, data.case_id))[0]
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
