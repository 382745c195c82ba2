"""The delivery log's states on the real PostgreSQL, as the service's own role: a claim
that lapsed before the provider call is taken again; one that lapsed during it is never
sent again; a dispatcher that lost its claim can change nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind
from refuge_common.db.migrations import app_dsn, migrate
from refuge_common.db.pool import create_pool, tenant_transaction
from refuge_notifications.adapters import delivery_log
from refuge_notifications.domain.deliveries import PlannedDelivery
from refuge_notifications.schema import SCHEMA

pytestmark = pytest.mark.integration
LEASE = 1  # second


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_url, SCHEMA)
    # The dispatcher's pool: the delivery log of every organisation.
    pool = await create_pool(app_dsn(database_url, SCHEMA), schema=SCHEMA.schema, across_tenants=True)
    async with pool.acquire() as connection:
        await connection.execute("DELETE FROM deliveries")
    yield pool
    await pool.close()


async def _plan(pool: asyncpg.Pool) -> uuid.UUID:
    tenant, delivery_id = uuid.uuid4(), uuid.uuid4()
    planned = PlannedDelivery(
        delivery_id=delivery_id,
        tenant_id=tenant,
        trigger_event_id=str(uuid.uuid4()),
        trigger_source="/refuge/deadlines",
        channel=NotificationChannel.EMAIL,
        recipient_kind=RecipientKind.CASEWORKER,
        recipient_id=uuid.uuid4(),
        template="caseworker_reminder",
        context={"purpose": "appeal"},
        case_id=uuid.uuid4(),
        deadline_id=uuid.uuid4(),
    )
    async with tenant_transaction(pool, tenant) as connection:  # as an event handler plans it
        assert await delivery_log.plan_delivery(connection, planned)
        assert not await delivery_log.plan_delivery(connection, planned)  # one per event, recipient, channel
    return delivery_id


async def _status(pool: asyncpg.Pool, delivery_id: uuid.UUID) -> str:
    return str(await pool.fetchval("SELECT status FROM deliveries WHERE delivery_id = $1", delivery_id))


async def test_a_claim_that_lapsed_before_the_provider_call_is_taken_again(pool: asyncpg.Pool) -> None:
    delivery_id = await _plan(pool)
    [first] = await delivery_log.claim_deliveries(pool, 10, LEASE)
    assert first["delivery_id"] == delivery_id and await _status(pool, delivery_id) == "claimed"
    assert await delivery_log.claim_deliveries(pool, 10, LEASE) == []  # held while the lease runs

    await asyncio.sleep(LEASE + 0.2)  # the first dispatcher died while composing
    [second] = await delivery_log.claim_deliveries(pool, 10, LEASE)
    assert second["delivery_id"] == delivery_id and second["claim_token"] != first["claim_token"]
    async with pool.acquire() as connection:
        # The first dispatcher, back to life, may neither call the provider nor settle.
        assert not await delivery_log.begin_sending(connection, delivery_id, first["claim_token"], LEASE)
        assert not await delivery_log.settle(connection, delivery_id, first["claim_token"], "sent")
        assert await delivery_log.begin_sending(connection, delivery_id, second["claim_token"], LEASE)
        assert await delivery_log.settle(connection, delivery_id, second["claim_token"], "sent")
    assert await _status(pool, delivery_id) == "sent"
    # Attempts count failed provider exchanges: a dispatcher dying before one is not a failure.
    assert await pool.fetchval("SELECT attempts FROM deliveries WHERE delivery_id = $1", delivery_id) == 0


async def test_a_send_that_lapsed_during_the_provider_call_is_never_claimed_again(pool: asyncpg.Pool) -> None:
    delivery_id = await _plan(pool)
    [claimed] = await delivery_log.claim_deliveries(pool, 10, LEASE)
    async with pool.acquire() as connection:
        assert await delivery_log.begin_sending(connection, delivery_id, claimed["claim_token"], LEASE)
    assert await delivery_log.abandoned_sends(pool, 10) == []  # still within its lease

    await asyncio.sleep(LEASE + 0.2)  # the dispatcher died during the provider call
    assert await delivery_log.claim_deliveries(pool, 10, LEASE) == []
    [abandoned] = await delivery_log.abandoned_sends(pool, 10)
    assert abandoned["delivery_id"] == delivery_id
    async with pool.acquire() as connection:
        assert await delivery_log.settle(connection, delivery_id, abandoned["claim_token"], "unknown", "died")
        assert not await delivery_log.settle(connection, delivery_id, abandoned["claim_token"], "sent")
    assert await _status(pool, delivery_id) == "unknown"
    assert (
        await delivery_log.abandoned_sends(pool, 10) == []
        and await delivery_log.claim_deliveries(pool, 10, LEASE) == []
    )


async def test_a_temporary_failure_waits_and_is_claimed_again_with_a_new_token(pool: asyncpg.Pool) -> None:
    delivery_id = await _plan(pool)
    [claimed] = await delivery_log.claim_deliveries(pool, 10, LEASE)
    async with pool.acquire() as connection:
        assert await delivery_log.begin_sending(connection, delivery_id, claimed["claim_token"], LEASE)
        await delivery_log.retry_later(connection, delivery_id, claimed["claim_token"], 0.5, "smtp 451")
    assert await _status(pool, delivery_id) == "pending"
    assert await delivery_log.claim_deliveries(pool, 10, LEASE) == []  # not before its time
    await asyncio.sleep(0.7)
    [again] = await delivery_log.claim_deliveries(pool, 10, LEASE)
    assert again["attempts"] == 1 and again["claim_token"] != claimed["claim_token"]
