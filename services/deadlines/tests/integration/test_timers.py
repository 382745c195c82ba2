"""Reminder timers fire exactly once: with two workers, and with a worker killed mid-batch."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client import REGISTRY

from refuge_common.contract.deadlines import ReminderDue
from refuge_common.contract.envelope import from_record, to_record
from refuge_common.db.migrations import app_dsn
from refuge_common.db.pool import create_pool, tenant_transaction
from refuge_deadlines.adapters import deadline_store, timer_metrics
from refuge_deadlines.adapters.deadline_store import StoredDeadline
from refuge_deadlines.entrypoints import timer_worker
from refuge_deadlines.entrypoints.timer_worker import fire_due_reminders
from refuge_deadlines.schema import SCHEMA

pytestmark = pytest.mark.integration


async def _due_reminders(deadlines: Any, count: int) -> tuple[UUID, set[UUID]]:
    """``count`` reminders of one deadline, all due now; (tenant, reminder ids)."""

    tenant, case = await deadlines.new_case()
    await deadlines.eventually(lambda: deadlines.rows(tenant, "SELECT 1 FROM cases WHERE case_id = $1", case))
    due = datetime.now(UTC) + timedelta(days=30)
    deadline = StoredDeadline(
        uuid.uuid4(),
        f"test@{uuid.uuid4()}",
        "appeal",
        "test.rule",
        "basis",
        due,
        "Europe/Paris",
        None,
        "open",
        "trigger",
    )
    ids = {uuid.uuid4() for _ in range(count)}
    rows = [
        (
            rid,
            tenant,
            deadline.deadline_id,
            datetime.now(UTC) - timedelta(seconds=1),
            "P30D",
            "reminder",
            deadline_store.as_json(
                ReminderDue(
                    deadline_id=deadline.deadline_id,
                    reminder_id=rid,
                    case_id=case,
                    purpose="appeal",
                    due=due,
                    timezone="Europe/Paris",
                    remind_at=datetime.now(UTC),
                    offset="P30D",
                )
            ),
        )
        for rid in ids
    ]
    async with tenant_transaction(deadlines.pool, tenant) as connection:
        await deadline_store.insert_deadline(connection, tenant, None, case, deadline)
        await deadline_store.add_timers(connection, rows)
    return tenant, ids


async def _fired(deadlines: Any, ids: set[UUID]) -> list[str]:
    """The status of each timer."""

    async with deadlines.pool.acquire() as connection:
        statuses = await connection.fetch(
            "SELECT status FROM reminders WHERE reminder_id = ANY($1::uuid[])", list(ids)
        )
    return [row["status"] for row in statuses]


async def _stop_background(deadlines: Any) -> None:
    # The service's own timer worker would compete with the ones under test.
    for task in deadlines.app.state.runtime._tasks:
        task.cancel()


async def test_two_workers_fire_each_reminder_exactly_once(deadlines: Any) -> None:
    await _stop_background(deadlines)
    tenant, ids = await _due_reminders(deadlines, 3_000)
    dsn = app_dsn(deadlines.settings.database_url, SCHEMA)
    pools = [await create_pool(dsn, size=2, schema=SCHEMA.schema) for _ in range(2)]
    published: list[int] = []

    async def worker(pool: asyncpg.Pool) -> None:
        while fired := await fire_due_reminders(pool, 100):
            published.append(fired)

    try:
        await asyncio.gather(*(worker(pool) for pool in pools))
    finally:
        for pool in pools:
            await pool.close()
    assert sum(published) == len(ids)
    assert set(await _fired(deadlines, ids)) == {"fired"}
    relayed = await deadlines.eventually(lambda: _relayed(deadlines, tenant, len(ids)), timeout=60)
    assert Counter(relayed) == Counter({str(rid): 1 for rid in ids})


async def _relayed(deadlines: Any, tenant: UUID, expected: int) -> list[str] | None:
    """reminder_id of every reminder.due of ``tenant`` on the topic, once ``expected`` arrived."""

    records = await _relayed_records(deadlines, tenant, expected)
    if records is None:
        return None
    return [json.loads(r.value)["reminder_id"] for r in records]


async def test_a_worker_killed_mid_batch_loses_nothing_and_fires_nothing_twice(deadlines: Any) -> None:
    await _stop_background(deadlines)
    tenant, ids = await _due_reminders(deadlines, 500)
    dsn = app_dsn(deadlines.settings.database_url, SCHEMA)
    # A worker that claims a batch and dies before committing it.
    script = textwrap.dedent(f"""
        import asyncio, asyncpg
        async def main():
            connection = await asyncpg.connect({dsn!r}, server_settings={{"search_path": "deadlines"}})
            transaction = connection.transaction()
            await transaction.start()
            await connection.fetch("SELECT reminder_id FROM reminders WHERE status = 'pending' "
                                   "AND remind_at <= now() ORDER BY remind_at LIMIT 200 "
                                   "FOR UPDATE SKIP LOCKED")
            print("claimed", flush=True)
            await asyncio.sleep(3600)
        asyncio.run(main())
    """)
    victim = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert victim.stdout is not None and victim.stdout.readline().strip() == "claimed"
    pool = await create_pool(dsn, size=2, schema=SCHEMA.schema)
    try:
        # While the victim holds its 200, the survivor fires only the others.
        while await fire_due_reminders(pool, 100):
            pass
        assert (await _fired(deadlines, ids)).count("pending") == 200
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        await deadlines.eventually(lambda: _all_fired(pool, ids), timeout=30)
    finally:
        await pool.close()
    assert set(await _fired(deadlines, ids)) == {"fired"}
    relayed = await deadlines.eventually(lambda: _relayed(deadlines, tenant, len(ids)), timeout=60)
    assert Counter(relayed) == Counter({str(rid): 1 for rid in ids})


async def _all_fired(pool: asyncpg.Pool, ids: set[UUID]) -> bool:
    await fire_due_reminders(pool, 100)
    async with pool.acquire() as connection:
        return not await connection.fetchval(
            "SELECT count(*) FROM reminders WHERE reminder_id = ANY($1::uuid[]) AND status <> 'fired'",
            list(ids),
        )


async def _relayed_records(deadlines: Any, tenant: UUID, expected: int) -> list[Any] | None:
    """Every reminder.due record of ``tenant`` on the topic, once ``expected`` arrived."""

    def reminder_of_tenant(record: Any) -> bool:
        headers = dict(record.headers)
        return (
            headers.get("ce_tenantid") == str(tenant).encode()
            and headers["ce_type"] == b"org.refuge.reminder.due.v1"
        )

    consumer = AIOKafkaConsumer(
        "refuge.deadlines.v1",
        bootstrap_servers=deadlines.settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found: list[Any] = []
    try:
        while batch := await consumer.getmany(timeout_ms=700, max_records=5000):
            for records in batch.values():
                found += [r for r in records if reminder_of_tenant(r)]
    finally:
        await consumer.stop()
    return found if len(found) >= expected else None


def _as_the_sdk_writes_it(record: Any) -> None:
    """The record on the topic is, byte for byte, what ``to_record`` writes for its event."""

    envelope = from_record(record.headers, record.key, record.value)
    expected = to_record(envelope)
    assert record.key == expected.key
    assert record.value == expected.value
    assert sorted(record.headers) == sorted(expected.headers)


@pytest.mark.parametrize("database_builds_records", [True, False], ids=["in-database", "sdk-fallback"])
async def test_fired_records_are_the_ones_the_cloudevents_sdk_writes(
    deadlines: Any, monkeypatch: pytest.MonkeyPatch, database_builds_records: bool
) -> None:
    """PostgreSQL builds reminder.due records from the timers' payloads; every one of them
    (not only the one per batch the worker compares) must be what the SDK writes, and a
    difference must send the worker back to the SDK without firing anything twice."""

    await _stop_background(deadlines)
    monkeypatch.setattr(timer_worker, "_sdk_only", False)
    if not database_builds_records:
        real = timer_worker._matches_sdk

        def differs_once(row: asyncpg.Record, now: datetime) -> bool:
            monkeypatch.setattr(timer_worker, "_matches_sdk", real)
            monkeypatch.setattr(timer_worker, "_sdk_only", True)
            return False

        monkeypatch.setattr(timer_worker, "_matches_sdk", differs_once)
    tenant, ids = await _due_reminders(deadlines, 250)
    dsn = app_dsn(deadlines.settings.database_url, SCHEMA)
    pool = await create_pool(dsn, size=2, schema=SCHEMA.schema)
    fired_before = _sample("refuge_reminders_fired_total", {"kind": "reminder"})
    lags_before = _sample("refuge_reminder_fire_lag_seconds_count")
    try:
        async with pool.acquire() as connection:
            await timer_metrics.sample_due(connection)
        assert _sample("refuge_reminders_due") >= len(ids)
        fired = 0
        while batch := await fire_due_reminders(pool, 100):
            fired += batch
    finally:
        await pool.close()
    assert fired == len(ids)
    assert _sample("refuge_reminders_fired_total", {"kind": "reminder"}) - fired_before == len(ids)
    assert _sample("refuge_reminder_fire_lag_seconds_count") - lags_before == len(ids)
    assert timer_worker._sdk_only is not database_builds_records
    records = await deadlines.eventually(lambda: _relayed_records(deadlines, tenant, len(ids)), timeout=60)
    assert Counter(json.loads(r.value)["reminder_id"] for r in records) == Counter({str(i): 1 for i in ids})
    for record in records:
        _as_the_sdk_writes_it(record)


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0
