"""Sealing with per-subject keys and the shared keyring, through real application roles."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap
from refuge_it_support import ServiceSchema, create_schema

from refuge_common.crypto.keyring import Keyring, MasterKeyWrapper
from refuge_common.crypto.sealing import UnreadableData, new_data_key, open_sealed, seal
from refuge_common.db.migrations import migrate_keyring
from refuge_common.db.pool import tenant_transaction

pytestmark = pytest.mark.integration

PERSONAL = {"family_name": "Nguyen", "phone": "+33 6 12 34 56 78", "notes": "arrived by sea"}


def master_key(size: int = 32) -> str:
    return base64.b64encode(os.urandom(size)).decode()


@dataclass
class Roles:
    writer: asyncpg.Pool
    reader: asyncpg.Pool
    admin_dsn: str


@pytest.fixture(scope="module")
async def roles(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Roles]:
    await migrate_keyring(database_url)
    writer_schema = await create_schema(
        database_url, tmp_path_factory.mktemp("writer"), {}, keyring="write", prefix="kw"
    )
    reader_schema = await create_schema(
        database_url, tmp_path_factory.mktemp("reader"), {}, keyring="read", prefix="kr"
    )
    schemas: list[ServiceSchema] = [writer_schema, reader_schema]
    writer, reader = await writer_schema.app_pool(), await reader_schema.app_pool()
    yield Roles(writer, reader, database_url)
    await writer.close()
    await reader.close()
    for schema in schemas:
        await schema.drop()


async def wrapped_row(admin_dsn: str, subject_id: uuid.UUID) -> bytes | None:
    connection = await asyncpg.connect(admin_dsn)
    try:
        value = await connection.fetchval(
            "SELECT wrapped_key FROM keyring.subject_keys WHERE subject_id = $1", subject_id
        )
        return None if value is None else bytes(value)
    finally:
        await connection.close()


def test_seal_then_open_returns_the_payload_and_hides_it() -> None:
    key, subject = new_data_key(), uuid.uuid4()
    sealed = seal(key, subject, PERSONAL)
    assert sealed.key_id == subject
    assert "Nguyen" not in sealed.model_dump_json()
    assert open_sealed(key, sealed) == PERSONAL
    # A fresh nonce each time: the same payload never seals to the same bytes.
    assert seal(key, subject, PERSONAL).ciphertext != sealed.ciphertext


def test_ciphertext_bound_to_its_subject_and_key() -> None:
    key_a, key_b = new_data_key(), new_data_key()
    subject_a, subject_b = uuid.uuid4(), uuid.uuid4()
    sealed = seal(key_a, subject_a, PERSONAL)

    moved = sealed.model_copy(update={"key_id": subject_b})
    with pytest.raises(UnreadableData):
        open_sealed(key_a, moved)  # same key, other subject: the AAD does not match
    with pytest.raises(UnreadableData):
        open_sealed(key_b, moved)
    with pytest.raises(UnreadableData):
        open_sealed(key_b, sealed)
    raw = bytearray(base64.b64decode(sealed.ciphertext))
    raw[0] ^= 1
    with pytest.raises(UnreadableData):
        open_sealed(key_a, sealed.model_copy(update={"ciphertext": base64.b64encode(raw).decode()}))


def test_master_key_wrapper_rejects_wrong_sizes_and_foreign_wraps() -> None:
    for size in (16, 24, 31, 33, 64):
        with pytest.raises(ValueError, match="32 bytes"):
            MasterKeyWrapper(master_key(size))
    wrapped = MasterKeyWrapper(master_key()).wrap(new_data_key())
    with pytest.raises(InvalidUnwrap):
        MasterKeyWrapper(master_key()).unwrap(wrapped)


async def test_create_get_destroy_through_the_app_role(roles: Roles) -> None:
    wrapper = MasterKeyWrapper(master_key())
    keyring = Keyring(wrapper)
    tenant, subject = uuid.uuid4(), uuid.uuid4()

    async with tenant_transaction(roles.writer, tenant) as connection:
        key = await keyring.create(connection, subject, tenant)
    sealed = seal(key, subject, PERSONAL)
    stored = await wrapped_row(roles.admin_dsn, subject)
    assert stored is not None and key not in stored  # only the wrapped key rests in the table

    fresh = Keyring(wrapper)  # another process: nothing cached
    async with tenant_transaction(roles.writer, tenant) as connection:
        assert await fresh.get(connection, subject) == key
    async with tenant_transaction(roles.reader, tenant) as connection:
        assert await Keyring(wrapper).get(connection, subject) == key
    for other in (uuid.uuid4(), None):
        async with tenant_transaction(roles.writer, other) as connection:
            assert await Keyring(wrapper).get(connection, subject) is None

    async with tenant_transaction(roles.writer, tenant) as connection:
        assert await keyring.destroy(connection, subject) is True
        assert await keyring.destroy(connection, subject) is False
    assert await wrapped_row(roles.admin_dsn, subject) is None
    async with tenant_transaction(roles.writer, tenant) as connection:
        assert await keyring.get(connection, subject) is None
        assert await Keyring(wrapper).get(connection, subject) is None
        # Even a new key for the same subject cannot open what the old one sealed.
        replacement = await keyring.create(connection, subject, tenant)
    with pytest.raises(UnreadableData):
        open_sealed(replacement, sealed)


async def test_a_key_cannot_be_created_for_another_tenant(roles: Roles) -> None:
    keyring = Keyring(MasterKeyWrapper(master_key()))
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with tenant_transaction(roles.writer, uuid.uuid4()) as connection:
            await keyring.create(connection, uuid.uuid4(), uuid.uuid4())


async def test_a_cached_key_is_not_served_to_another_tenant(roles: Roles) -> None:
    keyring = Keyring(MasterKeyWrapper(master_key()))  # one per service process, shared by tenants
    tenant, subject = uuid.uuid4(), uuid.uuid4()
    async with tenant_transaction(roles.writer, tenant) as connection:
        await keyring.create(connection, subject, tenant)
    async with tenant_transaction(roles.writer, tenant) as connection:
        assert await keyring.get(connection, subject) is not None
    async with tenant_transaction(roles.writer, uuid.uuid4()) as connection:
        assert await keyring.get(connection, subject) is None


async def test_a_key_destroyed_elsewhere_is_not_served_from_the_cache(roles: Roles) -> None:
    wrapper = MasterKeyWrapper(master_key())
    intake, notifications = Keyring(wrapper), Keyring(wrapper)  # two processes
    tenant, subject = uuid.uuid4(), uuid.uuid4()
    async with tenant_transaction(roles.writer, tenant) as connection:
        await intake.create(connection, subject, tenant)
    async with tenant_transaction(roles.reader, tenant) as connection:
        assert await notifications.get(connection, subject) is not None  # now cached there
    async with tenant_transaction(roles.writer, tenant) as connection:
        assert await intake.destroy(connection, subject)
    async with tenant_transaction(roles.reader, tenant) as connection:
        assert await notifications.get(connection, subject) is None


async def test_read_only_role_can_neither_insert_nor_delete_keys(roles: Roles) -> None:
    wrapper = MasterKeyWrapper(master_key())
    tenant, subject = uuid.uuid4(), uuid.uuid4()
    async with tenant_transaction(roles.writer, tenant) as connection:
        key = await Keyring(wrapper).create(connection, subject, tenant)

    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with tenant_transaction(roles.reader, tenant) as connection:
            await Keyring(wrapper).create(connection, uuid.uuid4(), tenant)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with tenant_transaction(roles.reader, tenant) as connection:
            await Keyring(wrapper).destroy(connection, subject)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with tenant_transaction(roles.reader, tenant) as connection:
            await connection.execute("UPDATE keyring.subject_keys SET wrapped_key = '\\x00'")
    async with tenant_transaction(roles.reader, tenant) as connection:
        assert await Keyring(wrapper).get(connection, subject) == key
