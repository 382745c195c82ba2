"""Onboarding an NGO: organisation, offices, staff and API keys, each with its events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from refuge_common.auth.principal import Role
from refuge_common.contract.directory import OfficeOpened, OrganisationRegistered, StaffRegistered
from refuge_common.contract.envelope import new_event
from refuge_common.contract.vocabulary import OfficeKind
from refuge_common.crypto.keyring import Keyring
from refuge_common.crypto.sealing import seal
from refuge_common.db.pool import tenant_transaction
from refuge_common.messaging.outbox import add_to_outbox
from refuge_intake.adapters import directory_store
from refuge_intake.domain import api_keys
from refuge_intake.schema import SOURCE


class NotFound(LookupError):
    pass


async def register_organisation(pool: asyncpg.Pool, name: str, default_language: str = "fr") -> UUID:
    organisation_id = uuid.uuid4()
    data = OrganisationRegistered(
        organisation_id=organisation_id, name=name, default_language=default_language
    )
    async with tenant_transaction(pool, organisation_id) as connection:
        await directory_store.insert_organisation(connection, organisation_id, name, default_language)
        await add_to_outbox(connection, [new_event(SOURCE, data, organisation_id)])
    return organisation_id


async def open_office(
    pool: asyncpg.Pool,
    organisation_id: UUID,
    *,
    name: str,
    kind: OfficeKind,
    timezone: str,
    jurisdiction: str,
) -> UUID:
    office_id = uuid.uuid4()
    data = OfficeOpened(
        office_id=office_id,
        organisation_id=organisation_id,
        name=name,
        kind=kind,
        timezone=timezone,
        jurisdiction=jurisdiction,
    )
    office = directory_store.Office(
        office_id, organisation_id, name, data.kind.value, timezone, jurisdiction, closed=False
    )
    async with tenant_transaction(pool, organisation_id) as connection:
        await directory_store.insert_office(connection, office)
        await add_to_outbox(connection, [new_event(SOURCE, data, organisation_id)])
    return office_id


@dataclass(frozen=True)
class StaffContact:
    name: str
    email: str | None = None
    phone: str | None = None


async def register_staff(
    pool: asyncpg.Pool,
    keyring: Keyring,
    organisation_id: UUID,
    *,
    role: Role,
    office_id: UUID | None,
    contact: StaffContact,
    preferred_language: str = "fr",
) -> UUID:
    staff_id = uuid.uuid4()
    async with tenant_transaction(pool, organisation_id) as connection:
        if office_id is not None and await directory_store.get_office(connection, office_id) is None:
            raise NotFound(f"office {office_id} not found")
        key = await keyring.create(connection, staff_id, organisation_id)
        sealed = seal(key, staff_id, {k: v for k, v in vars(contact).items() if v is not None})
        await directory_store.insert_staff(
            connection,
            staff_id=staff_id,
            tenant_id=organisation_id,
            office_id=office_id,
            role=role,
            preferred_language=preferred_language,
            contact=sealed,
        )
        data = StaffRegistered(
            staff_id=staff_id,
            organisation_id=organisation_id,
            office_id=office_id,
            role=role,
            preferred_language=preferred_language,
            contact=sealed,
        )
        await add_to_outbox(connection, [new_event(SOURCE, data, organisation_id)])
    return staff_id


async def create_api_key(
    pool: asyncpg.Pool,
    organisation_id: UUID,
    *,
    role: Role,
    office_id: UUID | None = None,
    staff_id: UUID | None = None,
    label: str = "",
) -> str:
    """Create a key and return it; this is the only time its secret is visible."""

    key = api_keys.generate()
    async with tenant_transaction(pool, organisation_id) as connection:
        if office_id is not None and await directory_store.get_office(connection, office_id) is None:
            raise NotFound(f"office {office_id} not found")
        if staff_id is not None and not await directory_store.staff_exists(connection, staff_id):
            raise NotFound(f"staff {staff_id} not found")
        await directory_store.insert_api_key(
            connection,
            key,
            tenant_id=organisation_id,
            role=role,
            office_id=office_id,
            staff_id=staff_id,
            label=label,
        )
    return key.token
