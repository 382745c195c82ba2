"""The delivery log and the office deadlines under forced row-level security, as the service's
own role: an ordinary connection sees, changes and plants one organisation's rows only, even
in a statement without a tenant filter; the dispatcher's pool (``across_tenants``) reads and
writes every organisation's rows, as the dispatcher and the weekly-digest scheduler must."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from refuge_common.db.migrations import app_dsn
from refuge_common.db.pool import create_pool, tenant_transaction
from refuge_common.service_main import migrate_service
from refuge_devstack.pytest_plugin import throwaway_database
from refuge_notifications.schema import SCHEMA
from refuge_notifications.settings import NotificationsSettings

pytestmark = pytest.mark.integration
TABLES = ("deliveries", "office_deadlines")


@dataclass
class Pools:
    owner: asyncpg.Pool
    service: asyncpg.Pool  # the role as routes and event handlers use it
    across_tenants: asyncpg.Pool  # the same role, as the dispatcher uses it


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with throwaway_database() as url:
        yield url


@pytest.fixture
async def pools(database: str) -> AsyncIterator[Pools]:
    await migrate_service(NotificationsSettings(database_url=database), SCHEMA)
    owner = await create_pool(database, size=1, schema=SCHEMA.schema)
    service = await create_pool(app_dsn(database, SCHEMA), size=1, schema=SCHEMA.schema)
    across = await create_pool(app_dsn(database, SCHEMA), size=1, schema=SCHEMA.schema, across_tenants=True)
    try:
        for table in TABLES:
            await owner.execute(f"DELETE FROM {table}")
        yield Pools(owner, service, across)
    finally:
        for pool in (across, service, owner):
            await pool.close()


async def _plant(owner: asyncpg.Pool, tenant: uuid.UUID) -> None:
    """One row of each table for ``tenant``, written as the owner."""

    await owner.execute(
        """INSERT INTO deliveries (delivery_id, tenant_id, idempotency_key, trigger_event_id,
               trigger_source, channel, recipient_kind, recipient_id, template, context)
           VALUES ($1, $2, $3, 'event', '/refuge/tests', 'email', 'caseworker', $4,
                   'caseworker_reminder', '{}')""",
        uuid.uuid4(),
        tenant,
        uuid.uuid4().hex,
        uuid.uuid4(),
    )
    await owner.execute(
        """INSERT INTO office_deadlines (deadline_id, tenant_id, case_id, purpose, due, timezone)
           VALUES ($1, $2, $3, 'appeal', $4, 'Europe/Paris')""",
        uuid.uuid4(),
        tenant,
        uuid.uuid4(),
        datetime(2027, 1, 4, 23, 59, tzinfo=UTC),
    )


async def _tenants(pool: asyncpg.Pool, table: str) -> list[uuid.UUID]:
    return sorted(row["tenant_id"] for row in await pool.fetch(f"SELECT tenant_id FROM {table}"))


async def test_an_ordinary_connection_sees_and_changes_one_organisations_rows(pools: Pools) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    await _plant(pools.owner, a)
    await _plant(pools.owner, b)
    for table in TABLES:
        assert await _tenants(pools.service, table) == []  # no tenant, no row
        async with tenant_transaction(pools.service, a) as connection:
            assert await _tenants(connection, table) == [a]  # type: ignore[arg-type]
            # A forgotten filter changes nothing of another organisation's.
            await connection.execute(f"DELETE FROM {table}")
        assert await _tenants(pools.owner, table) == [b]


async def test_an_ordinary_connection_plants_no_row_of_another_organisation(pools: Pools) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    await _plant(pools.owner, a)
    for table in TABLES:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with tenant_transaction(pools.service, a) as connection:
                await connection.execute(f"UPDATE {table} SET tenant_id = $1", b)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with tenant_transaction(pools.service, a) as connection:
            await connection.execute(
                """INSERT INTO office_deadlines (deadline_id, tenant_id, case_id, purpose, due, timezone)
                   VALUES ($1, $2, $3, 'appeal', now(), 'UTC')""",
                uuid.uuid4(),
                b,
                uuid.uuid4(),
            )
    for table in TABLES:
        assert await _tenants(pools.owner, table) == [a]


async def test_the_dispatchers_pool_reads_and_writes_every_organisations_rows(pools: Pools) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    await _plant(pools.owner, a)
    await _plant(pools.owner, b)
    for table in TABLES:
        assert await _tenants(pools.across_tenants, table) == sorted([a, b])
    claimed = await pools.across_tenants.fetch(
        "UPDATE deliveries SET status = 'claimed' WHERE status = 'pending' RETURNING tenant_id"
    )
    assert sorted(row["tenant_id"] for row in claimed) == sorted([a, b])


async def test_the_policies_read_the_settings_once_per_statement_not_per_row(pools: Pools) -> None:
    # The dispatcher reads every open row for its next wake-up and its abandoned sends; a
    # policy calling current_setting() on each row doubled PostgreSQL's CPU per message
    # through a backlog (bench/results/2026-12-07-session9-row-security.json).
    for pool in (pools.across_tenants, pools.service):
        for table in TABLES:
            plan = await pool.fetchval(f"EXPLAIN (FORMAT JSON, VERBOSE) SELECT count(*) FROM {table}")
            scans = list(_nodes(plan[0]["Plan"]))  # the pool decodes JSON
            filters = [node["Filter"] for node in scans if node.get("Relation Name") == table]
            assert filters and not [f for f in filters if "current_setting" in f], filters


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)
