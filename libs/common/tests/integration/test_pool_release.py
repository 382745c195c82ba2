"""A pooled connection goes back clean: no tenant, no open transaction (no reset query on release)."""

from __future__ import annotations

import uuid

import pytest

from refuge_common.db.pool import create_pool, tenant_transaction

pytestmark = pytest.mark.integration


async def test_the_tenant_of_one_transaction_is_not_the_next_borrowers(database_url: str) -> None:
    pool = await create_pool(database_url, size=1)
    try:
        tenant = uuid.uuid4()
        async with tenant_transaction(pool, tenant) as connection:
            assert await connection.fetchval("SELECT current_setting('refuge.tenant_id')") == str(tenant)
        async with pool.acquire() as connection:
            assert await connection.fetchval("SELECT current_setting('refuge.tenant_id', true)") in (None, "")
    finally:
        await pool.close()


async def test_a_connection_released_inside_a_transaction_is_rolled_back(database_url: str) -> None:
    pool = await create_pool(database_url, size=1)
    table = f"released_{uuid.uuid4().hex[:12]}"
    try:
        await pool.execute(f"CREATE TABLE {table} (n int)")
        connection = await pool.acquire()
        await connection.execute("BEGIN")
        await connection.execute(f"INSERT INTO {table} VALUES (1)")
        await connection.execute("SELECT set_config('refuge.tenant_id', 'left-behind', false)")
        await pool.release(connection)
        async with pool.acquire() as again:
            assert not again.is_in_transaction()
            assert await again.fetchval(f"SELECT count(*) FROM {table}") == 0
            assert await again.fetchval("SELECT current_setting('refuge.tenant_id', true)") in (None, "")
    finally:
        await pool.execute(f"DROP TABLE IF EXISTS {table}")
        await pool.close()


async def test_a_tenant_transaction_commits_its_rows_and_rolls_back_on_error(database_url: str) -> None:
    pool = await create_pool(database_url, size=1)
    table = f"tenant_tx_{uuid.uuid4().hex[:12]}"
    try:
        await pool.execute(f"CREATE TABLE {table} (n int)")
        async with tenant_transaction(pool, uuid.uuid4()) as connection:
            assert connection.is_in_transaction()
            await connection.execute(f"INSERT INTO {table} VALUES (1)")
        with pytest.raises(ZeroDivisionError):
            async with tenant_transaction(pool, uuid.uuid4()) as connection:
                await connection.execute(f"INSERT INTO {table} VALUES (2)")
                raise ZeroDivisionError
        async with pool.acquire() as connection:
            assert not connection.is_in_transaction()
            assert await connection.fetchval(f"SELECT array_agg(n) FROM {table}") == [1]
    finally:
        await pool.execute(f"DROP TABLE IF EXISTS {table}")
        await pool.close()


async def test_a_tenant_that_is_not_a_uuid_never_reaches_the_sql(database_url: str) -> None:
    # BEGIN and the tenant travel as one simple query, with the tenant as a literal.
    pool = await create_pool(database_url, size=1)
    try:
        with pytest.raises(ValueError):
            async with tenant_transaction(pool, "x'); DROP TABLE outbox; --"):  # type: ignore[arg-type]
                pass
        async with pool.acquire() as connection:
            assert not connection.is_in_transaction()
    finally:
        await pool.close()
