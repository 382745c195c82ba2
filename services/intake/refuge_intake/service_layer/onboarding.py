"""Onboarding an NGO: organisation, offices, staff and API keys, each with its events."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from refuge_common.auth.principal import Role
from refuge_common.contract.directory import (
    OfficeClosed,
    OfficeOpened,
    OfficeUpdated,
    OrganisationRegistered,
    StaffRegistered,
    StaffRemoved,
    StaffUpdated,
)
from refuge_common.contract.envelope import new_event
from refuge_common.contract.vocabulary import OfficeKind
from refuge_common.crypto.keyring import Keyring
from refuge_common.crypto.sealing import open_sealed, seal
from refuge_common.db.pool import Connection, tenant_transaction
from refuge_common.messaging.outbox import add_to_outbox
from refuge_intake.adapters import directory_store
from refuge_intake.adapters.directory_store import ApiKeyInfo, Office, StaffMember
from refuge_intake.domain import api_keys
from refuge_intake.schema import SOURCE


class NotFound(LookupError):
    pass


class Refused(ValueError):
    """The record exists but is in a state that does not allow this (closed, removed)."""


# Keeps an option as it is (None would clear it, where clearing is allowed).
UNCHANGED: Any = object()


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


async def update_office(
    pool: asyncpg.Pool,
    organisation_id: UUID,
    office_id: UUID,
    *,
    name: str | None = None,
    kind: OfficeKind | None = None,
    timezone: str | None = None,
    jurisdiction: str | None = None,
) -> Office:
    """Change some attributes of an open office; ``office.updated`` carries its full state."""

    async with tenant_transaction(pool, organisation_id) as connection:
        current = await _open_office(connection, office_id, lock=True)
        office = dataclasses.replace(
            current,
            name=name if name is not None else current.name,
            kind=kind.value if kind is not None else current.kind,
            timezone=timezone if timezone is not None else current.timezone,
            jurisdiction=jurisdiction if jurisdiction is not None else current.jurisdiction,
        )
        if office != current:
            # Built before the write: an invalid time zone or jurisdiction is refused here.
            data = OfficeUpdated(
                office_id=office_id,
                organisation_id=organisation_id,
                name=office.name,
                kind=OfficeKind(office.kind),
                timezone=office.timezone,
                jurisdiction=office.jurisdiction,
            )
            await directory_store.update_office(connection, office)
            await add_to_outbox(connection, [new_event(SOURCE, data, organisation_id)])
    return office


async def close_office(pool: asyncpg.Pool, organisation_id: UUID, office_id: UUID) -> datetime:
    """Close an office: its cases stay, no new case or person can be opened in it."""

    closed_at = datetime.now(UTC)
    async with tenant_transaction(pool, organisation_id) as connection:
        await _open_office(connection, office_id, lock=True)
        await directory_store.close_office(connection, office_id, closed_at)
        data = OfficeClosed(office_id=office_id, organisation_id=organisation_id, closed_at=closed_at)
        await add_to_outbox(connection, [new_event(SOURCE, data, organisation_id)])
    return closed_at


async def _open_office(connection: Connection, office_id: UUID, *, lock: bool = False) -> Office:
    if lock:
        await connection.execute("SELECT 1 FROM offices WHERE office_id = $1 FOR UPDATE", office_id)
    office = await directory_store.get_office(connection, office_id)
    if office is None:
        raise NotFound(f"office {office_id} not found")
    if office.closed:
        raise Refused(f"office {office_id} is closed")
    return office


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


async def update_staff(
    pool: asyncpg.Pool,
    keyring: Keyring,
    organisation_id: UUID,
    staff_id: UUID,
    *,
    role: Role | None = None,
    office_id: UUID | None = UNCHANGED,
    preferred_language: str | None = None,
    contact: dict[str, str | None] | None = None,
) -> StaffMember:
    """Change a staff member; ``contact`` names the fields to change (None clears one).

    ``staff.updated`` carries the full state, the contact sealed again under the
    staff member's own key. The member's API keys keep the role and office they
    were issued with: issue new ones if those change.
    """

    async with tenant_transaction(pool, organisation_id) as connection:
        current = await _present_staff(connection, staff_id)
        if office_id is not UNCHANGED and office_id is not None:
            await _open_office(connection, office_id)
        sealed = current.contact
        if contact:
            key = await keyring.get(connection, staff_id)
            if key is None:
                raise Refused(f"staff {staff_id} has no key: their contact cannot be changed")
            details = open_sealed(key, current.contact) if current.contact else {}
            details = {k: v for k, v in {**details, **contact}.items() if v is not None}
            if not details.get("name"):
                raise Refused("contact: a staff member keeps a name")
            sealed = seal(key, staff_id, details)
        staff = dataclasses.replace(
            current,
            role=role or current.role,
            office_id=current.office_id if office_id is UNCHANGED else office_id,
            preferred_language=preferred_language or current.preferred_language,
            contact=sealed,
        )
        if staff != current:
            data = StaffUpdated(
                staff_id=staff_id,
                organisation_id=organisation_id,
                office_id=staff.office_id,
                role=staff.role,
                preferred_language=staff.preferred_language,
                contact=staff.contact,
            )
            await directory_store.update_staff(connection, staff)
            await add_to_outbox(connection, [new_event(SOURCE, data, organisation_id)])
    return staff


async def remove_staff(
    pool: asyncpg.Pool, keyring: Keyring, organisation_id: UUID, staff_id: UUID
) -> tuple[datetime, int]:
    """A staff member leaves: their contact is shredded and their API keys revoked.

    Returns when, and how many keys were revoked. Cases keep pointing at the staff
    id; the audit log keeps it too (it is not personal data without the contact).
    """

    removed_at = datetime.now(UTC)
    async with tenant_transaction(pool, organisation_id) as connection:
        await _present_staff(connection, staff_id)
        await keyring.destroy(connection, staff_id)
        await directory_store.mark_staff_removed(connection, staff_id, removed_at)
        revoked = await directory_store.revoke_api_keys_of_staff(connection, staff_id, removed_at)
        data = StaffRemoved(staff_id=staff_id, organisation_id=organisation_id, removed_at=removed_at)
        await add_to_outbox(connection, [new_event(SOURCE, data, organisation_id)])
    return removed_at, revoked


async def _present_staff(connection: Connection, staff_id: UUID) -> StaffMember:
    staff = await directory_store.get_staff(connection, staff_id, lock=True)
    if staff is None:
        raise NotFound(f"staff {staff_id} not found")
    if staff.removed:
        raise Refused(f"staff {staff_id} was removed")
    return staff


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


async def list_api_keys(pool: asyncpg.Pool, organisation_id: UUID) -> list[ApiKeyInfo]:
    async with tenant_transaction(pool, organisation_id) as connection:
        return await directory_store.list_api_keys(connection, organisation_id)


async def expire_api_key(pool: asyncpg.Pool, key_id: str, at: datetime | None = None) -> ApiKeyInfo:
    """Set when a key stops working (now by default): it then gets no token and no access."""

    when = at or datetime.now(UTC)
    return await _change_key(pool, key_id, lambda c: directory_store.set_api_key_expiry(c, key_id, when))


async def revoke_api_key(pool: asyncpg.Pool, key_id: str) -> ApiKeyInfo:
    now = datetime.now(UTC)
    return await _change_key(pool, key_id, lambda c: directory_store.revoke_api_key(c, key_id, now))


async def _change_key(
    pool: asyncpg.Pool, key_id: str, change: Callable[[Connection], Awaitable[bool]]
) -> ApiKeyInfo:
    # An operator names a key by its id alone; its organisation comes from the one
    # cross-tenant lookup there is (authenticate_api_key), then RLS applies as usual.
    async with pool.acquire() as connection:
        stored = await directory_store.find_api_key(connection, key_id)
    if stored is None:
        raise NotFound(f"API key {key_id} not found")
    async with tenant_transaction(pool, stored.tenant_id) as connection:
        if not await change(connection):
            raise NotFound(f"API key {key_id} not found")
        info = await directory_store.get_api_key_info(connection, key_id)
    assert info is not None
    return info
