"""Migrations, the application role and row-level security against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from refuge_it_support import TENANT_TABLE_SQL, ServiceSchema, create_schema, unique

from refuge_common.db.migrations import MigrationError, SchemaSpec, migrate
from refuge_common.db.pool import set_tenant, tenant_transaction

pytestmark = pytest.mark.integration

DOSSIERS = {"0001_dossiers.sql": TENANT_TABLE_SQL.format(table="dossiers")}
PLATFORM = "platform/0001_outbox_inbox.sql"


@pytest.fixture(scope="module")
async def schema(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServiceSchema]:
    created = await create_schema(database_url, tmp_path_factory.mktemp("dossiers"), DOSSIERS, prefix="mig")
    yield created
    await created.drop()


def fresh_spec(directory: Path) -> SchemaSpec:
    return SchemaSpec(schema=unique("mig"), role=unique("refuge_mig"), migrations=directory)


async def applied_names(database_url: str, schema: str) -> list[str]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(f'SELECT name FROM "{schema}".schema_migrations ORDER BY name')
        return [row["name"] for row in rows]
    finally:
        await connection.close()


async def test_migrations_apply_once_then_only_new_files(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "0001_dossiers.sql").write_text(DOSSIERS["0001_dossiers.sql"])
    spec = fresh_spec(tmp_path)
    try:
        assert await migrate(database_url, spec) == [PLATFORM, "0001_dossiers.sql"]
        assert await migrate(database_url, spec) == []
        (tmp_path / "0002_index.sql").write_text("CREATE INDEX dossiers_tenant ON dossiers (tenant_id);")
        assert await migrate(database_url, spec) == ["0002_index.sql"]
        applied = await applied_names(database_url, spec.schema)
        assert applied == ["0001_dossiers.sql", "0002_index.sql", PLATFORM]
    finally:
        await ServiceSchema(database_url, spec).drop()


async def test_concurrent_migrators_apply_each_file_once(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "0001_dossiers.sql").write_text(DOSSIERS["0001_dossiers.sql"])
    spec = fresh_spec(tmp_path)
    try:
        first, second = await asyncio.gather(migrate(database_url, spec), migrate(database_url, spec))
        assert sorted([first, second], key=len) == [[], [PLATFORM, "0001_dossiers.sql"]]
    finally:
        await ServiceSchema(database_url, spec).drop()


async def test_an_applied_file_that_changed_is_refused(database_url: str, tmp_path: Path) -> None:
    migration = tmp_path / "0001_dossiers.sql"
    migration.write_text(DOSSIERS["0001_dossiers.sql"])
    spec = fresh_spec(tmp_path)
    try:
        await migrate(database_url, spec)
        migration.write_text(DOSSIERS["0001_dossiers.sql"] + "\nALTER TABLE dossiers ADD COLUMN extra text;")
        (tmp_path / "0002_later.sql").write_text("CREATE TABLE later (id int);")
        with pytest.raises(MigrationError, match=r"0001_dossiers\.sql changed"):
            await migrate(database_url, spec)
        # Nothing after the refused file ran either.
        assert await applied_names(database_url, spec.schema) == ["0001_dossiers.sql", PLATFORM]
    finally:
        await ServiceSchema(database_url, spec).drop()


async def test_app_role_neither_owns_tables_nor_bypasses_rls(schema: ServiceSchema) -> None:
    admin = await schema.admin()
    try:
        role = await admin.fetchrow(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1",
            schema.spec.role,
        )
        owners = await admin.fetch(
            "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = $1", schema.name
        )
    finally:
        await admin.close()
    assert role is not None
    assert dict(role) == {
        "rolsuper": False,
        "rolbypassrls": False,
        "rolcreaterole": False,
        "rolcreatedb": False,
    }
    assert {row["tablename"] for row in owners} >= {"dossiers", "outbox", "inbox", "schema_migrations"}
    assert all(row["tableowner"] != schema.spec.role for row in owners)

    app = await asyncpg.connect(schema.app_dsn)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute(f'ALTER TABLE "{schema.name}".dossiers DISABLE ROW LEVEL SECURITY')
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.fetch(f'SELECT * FROM "{schema.name}".schema_migrations')
    finally:
        await app.close()


async def test_rls_is_enabled_and_forced_on_the_tenant_table(schema: ServiceSchema) -> None:
    admin = await schema.admin()
    try:
        flags = await admin.fetchrow(
            """SELECT c.relrowsecurity, c.relforcerowsecurity FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = $1 AND c.relname = 'dossiers'""",
            schema.name,
        )
    finally:
        await admin.close()
    assert flags is not None
    assert (flags["relrowsecurity"], flags["relforcerowsecurity"]) == (True, True)


async def test_a_query_without_tenant_filter_sees_only_the_current_tenant(schema: ServiceSchema) -> None:
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    # One connection: a tenant set with SET LOCAL must not survive its transaction.
    pool = await schema.app_pool(size=1)
    try:
        for tenant, labels in ((tenant_a, ["a1", "a2"]), (tenant_b, ["b1"])):
            async with tenant_transaction(pool, tenant) as connection:
                await connection.executemany(
                    "INSERT INTO dossiers (tenant_id, label) VALUES ($1, $2)",
                    [(tenant, label) for label in labels],
                )

        async with tenant_transaction(pool, tenant_a) as connection:
            seen = await connection.fetch("SELECT tenant_id, label FROM dossiers ORDER BY label")
        assert [(row["tenant_id"], row["label"]) for row in seen] == [(tenant_a, "a1"), (tenant_a, "a2")]

        async with tenant_transaction(pool, tenant_b) as connection:
            assert [row["label"] for row in await connection.fetch("SELECT label FROM dossiers")] == ["b1"]
            with pytest.raises(asyncpg.InsufficientPrivilegeError):  # WITH CHECK: no writing for A as B
                await connection.execute(
                    "INSERT INTO dossiers (tenant_id, label) VALUES ($1, 'sneaky')", tenant_a
                )

        # Outside any tenant transaction, on the connection that just had tenant B.
        assert await pool.fetch("SELECT * FROM dossiers") == []
        async with tenant_transaction(pool, None) as connection:
            assert await connection.fetch("SELECT * FROM dossiers") == []
        async with pool.acquire() as connection:
            async with connection.transaction():
                await set_tenant(connection, tenant_a)
                assert await connection.fetchval("SELECT count(*) FROM dossiers") == 2
            # Same connection, transaction over: the tenant went with it (SET LOCAL).
            assert await connection.fetchval("SELECT count(*) FROM dossiers") == 0
    finally:
        await pool.close()

    admin = await schema.admin()
    try:  # the rows are there; only the policy hid them
        assert await admin.fetchval("SELECT count(*) FROM dossiers") == 3
    finally:
        await admin.close()
