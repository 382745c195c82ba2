"""Registering, reading, updating and erasing persons.

Each operation is one tenant transaction holding the row, the person's key, one
audit row and the outgoing event: none of them can happen without the others.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from refuge_common.auth.principal import Principal, Role
from refuge_common.contract.envelope import new_event
from refuge_common.contract.persons import PersonErased, PersonRegistered, PersonUpdated
from refuge_common.crypto.keyring import Keyring
from refuge_common.crypto.sealing import open_sealed, seal
from refuge_common.db.pool import Connection, tenant_transaction
from refuge_common.messaging.outbox import add_to_outbox
from refuge_intake.adapters import audit_log, directory_store, person_store
from refuge_intake.adapters.audit_log import Access
from refuge_intake.adapters.directory_store import Office
from refuge_intake.adapters.person_store import StoredPerson
from refuge_intake.domain import persons
from refuge_intake.domain.normalise import InvalidField, phone_region
from refuge_intake.domain.persons import Person
from refuge_intake.schema import SOURCE
from refuge_intake.service_layer.errors import Forbidden, Gone, NotFound, Rejected

# Operators watch streams and integrators read events: neither sees personal data.
READERS = frozenset({Role.CASEWORKER, Role.COORDINATOR, Role.ORG_ADMIN})
ERASERS = frozenset({Role.COORDINATOR, Role.ORG_ADMIN})


def may_see(principal: Principal, person: StoredPerson) -> bool:
    """Caseworkers bound to an office see that office's persons; others the organisation's."""

    if principal.role not in READERS:
        return False
    if principal.office_id is not None and principal.role is Role.CASEWORKER:
        return person.office_id == principal.office_id
    return True


def _require(principal: Principal, roles: frozenset[Role], what: str) -> None:
    if principal.role not in roles:
        raise Forbidden(f"role: a key with role {principal.role.value} may not {what}")


async def register_person(
    pool: asyncpg.Pool,
    keyring: Keyring,
    principal: Principal,
    *,
    office_id: UUID | None,
    changes: Mapping[str, Any],
) -> StoredPerson:
    async with tenant_transaction(pool, principal.organisation_id) as connection:
        return await register_person_in(connection, keyring, principal, office_id=office_id, changes=changes)


async def register_person_in(
    connection: Connection,
    keyring: Keyring,
    principal: Principal,
    *,
    office_id: UUID | None,
    changes: Mapping[str, Any],
) -> StoredPerson:
    """:func:`register_person` in the caller's tenant transaction (one with its Idempotency-Key)."""

    _require(principal, READERS, "register persons")
    tenant = principal.organisation_id
    office_id = office_id or principal.office_id
    if office_id is None:
        raise Rejected("office_id", "required for a key that is not bound to an office")
    if principal.role is Role.CASEWORKER and principal.office_id not in (None, office_id):
        raise Rejected("office_id", "a caseworker registers persons in their own office")
    office = await directory_store.get_office(connection, office_id)
    if office is None:
        raise Rejected("office_id", "no such office")
    if office.closed:
        raise Rejected("office_id", "the office is closed")
    person = _apply(Person(), changes, office)
    person_id = uuid.uuid4()
    # The key is created in this transaction: no person without a key, no key without a person.
    key = await keyring.create(connection, person_id, tenant)
    now = datetime.now(UTC)
    stored = StoredPerson(
        person_id=person_id,
        tenant_id=tenant,
        office_id=office_id,
        **_clear(person, office),
        personal_data=seal(key, person_id, person.personal_data()),
        registered_at=now,
        updated_at=now,
        erased_at=None,
    )
    await person_store.insert_person(connection, stored, registered_by=principal.key_id)
    await audit_log.record(connection, principal, person_id, Access.CREATE)
    await add_to_outbox(connection, [new_event(SOURCE, PersonRegistered(**_state(stored)), tenant)])
    return stored


async def read_person(
    pool: asyncpg.Pool, keyring: Keyring, principal: Principal, person_id: UUID
) -> tuple[StoredPerson, Person]:
    _require(principal, READERS, "read personal data")
    async with tenant_transaction(pool, principal.organisation_id) as connection:
        stored = _visible(principal, person_id, await person_store.get_person(connection, person_id))
        _key, person = await _open(connection, keyring, stored)
        await audit_log.record(connection, principal, person_id, Access.READ)
    return stored, person


async def update_person(
    pool: asyncpg.Pool,
    keyring: Keyring,
    principal: Principal,
    person_id: UUID,
    changes: Mapping[str, Any],
) -> tuple[StoredPerson, Person]:
    async with tenant_transaction(pool, principal.organisation_id) as connection:
        return await update_person_in(connection, keyring, principal, person_id, changes)


async def update_person_in(
    connection: Connection,
    keyring: Keyring,
    principal: Principal,
    person_id: UUID,
    changes: Mapping[str, Any],
) -> tuple[StoredPerson, Person]:
    """:func:`update_person` in the caller's tenant transaction (one with its Idempotency-Key)."""

    _require(principal, READERS, "change personal data")
    stored = _visible(principal, person_id, await person_store.lock_person(connection, person_id))
    key, current = await _open(connection, keyring, stored)
    office = await directory_store.get_office(connection, stored.office_id)
    assert office is not None, "persons.office_id references offices"
    person = _apply(current, changes, office)
    # Recomputed on every update: the event carries the full state, age band included.
    clear = _clear(person, office)
    if person != current or clear != stored.clear():
        stored = dataclasses.replace(
            stored,
            **clear,
            personal_data=seal(key, person_id, person.personal_data()),
            updated_at=datetime.now(UTC),
        )
        await person_store.update_person(connection, stored)
        event = PersonUpdated(**_state(stored))
        await add_to_outbox(connection, [new_event(SOURCE, event, principal.organisation_id)])
    await audit_log.record(connection, principal, person_id, Access.UPDATE)
    return stored, person


async def erase_person(pool: asyncpg.Pool, keyring: Keyring, principal: Principal, person_id: UUID) -> None:
    """Crypto-shred a person: their key goes, so every sealed copy anywhere is unreadable."""

    _require(principal, ERASERS, "erase persons (a coordinator or an org admin can)")
    async with tenant_transaction(pool, principal.organisation_id) as connection:
        stored = _visible(principal, person_id, await person_store.lock_person(connection, person_id))
        erased_at = datetime.now(UTC)
        await keyring.destroy(connection, person_id)
        await person_store.mark_erased(connection, person_id, erased_at)
        await audit_log.record(connection, principal, person_id, Access.ERASE)
        event = PersonErased(person_id=person_id, erased_at=erased_at)
        await add_to_outbox(connection, [new_event(SOURCE, event, stored.tenant_id)])


def _visible(principal: Principal, person_id: UUID, stored: StoredPerson | None) -> StoredPerson:
    # Another tenant's person is invisible (RLS) and another office's is reported the
    # same way: a 404 says nothing about what exists elsewhere.
    if stored is None or not may_see(principal, stored):
        raise NotFound(f"person {person_id} not found")
    if stored.erased_at is not None:
        raise Gone(f"person {person_id} was erased")
    return stored


async def _open(connection: Connection, keyring: Keyring, stored: StoredPerson) -> tuple[bytes, Person]:
    """The person's key and their record, opened with it."""

    key = await keyring.get(connection, stored.person_id)
    if key is None or stored.personal_data is None:
        raise Gone(f"person {stored.person_id} was erased")
    return key, Person.restore(stored.clear(), open_sealed(key, stored.personal_data))


def _apply(current: Person, changes: Mapping[str, Any], office: Office) -> Person:
    try:
        return persons.apply(
            current, changes, phone_region=phone_region(office.jurisdiction), today=_today(office)
        )
    except InvalidField as error:
        raise Rejected(error.field, error.reason) from error


def _today(office: Office) -> date:
    """The date where the person is registered: an age changes at local midnight."""

    try:
        return datetime.now(ZoneInfo(office.timezone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.now(UTC).date()


def _clear(person: Person, office: Office) -> dict[str, Any]:
    band = person.age_band(_today(office))
    return {
        "gender": person.gender.value,
        "nationalities": list(person.nationalities),
        "stateless": person.stateless,
        "unaccompanied_minor": person.unaccompanied_minor,
        "age_band": band.value if band else None,
        "languages": list(person.languages),
        "preferred_language": person.preferred_language,
        "timezone": person.timezone,
    }


def _state(stored: StoredPerson) -> dict[str, Any]:
    """The event's fields: the clear attributes the contract has, and the sealed record."""

    return {
        "person_id": stored.person_id,
        "gender": stored.gender,
        "nationalities": stored.nationalities,
        "stateless": stored.stateless,
        "unaccompanied_minor": stored.unaccompanied_minor,
        "age_band": stored.age_band,
        "preferred_language": stored.preferred_language,
        "timezone": stored.timezone,
        "personal_data": stored.personal_data,
    }
