"""With a backlog, the dispatcher's group writes read the rows of their group, not the backlog.

After quiet hours end, or an outage, thousands of deliveries are due at once: that is when
sending must keep up. PostgreSQL once read every open row of the log for each group's
*sending* write (it took the partial indexes on open statuses for cheap), so each group cost
more the longer the queue, and the dispatcher slowed as the backlog grew. These tests plan
such a backlog, claim a group of it and ask PostgreSQL what each group write reads.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from dispatch_support import World

from refuge_notifications.adapters import delivery_groups, delivery_log

pytestmark = pytest.mark.integration

BACKLOG = 3_000
GROUP = 16


async def _backlog(world: World) -> list[asyncpg.Record]:
    """``BACKLOG`` due SMS reminders, statistics taken while all were pending (as autovacuum
    would have), then a group of them claimed."""

    async with world.owner.acquire() as connection:
        await connection.execute(
            """INSERT INTO deliveries (delivery_id, tenant_id, idempotency_key, trigger_event_id,
                   trigger_source, channel, recipient_kind, recipient_id, template, context)
               SELECT gen_random_uuid(), $1, 'backlog-' || n, 'event-' || n, '/refuge/test', 'sms',
                      'beneficiary', gen_random_uuid(), 'beneficiary_reminder', '{}'::jsonb
               FROM generate_series(1, $2) AS n""",
            world.tenant,
            BACKLOG,
        )
        await connection.execute("ANALYZE deliveries")
    claimed = await delivery_log.claim_deliveries(world.pool, GROUP, 60)
    assert len(claimed) == GROUP
    return claimed


def _log_rows_read(plan: dict[str, Any]) -> int:
    """Rows of ``deliveries`` the plan's scans went through: kept, filtered out or rechecked."""

    def scans(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if node.get("Relation Name") == "deliveries" and "Scan" in node["Node Type"]:
            yield node
        for child in node.get("Plans", []):
            yield from scans(child)

    removed = ("Rows Removed by Filter", "Rows Removed by Index Recheck")
    return sum(
        (scan["Actual Rows"] + sum(scan.get(key, 0) for key in removed)) * scan["Actual Loops"]
        for scan in scans(plan["Plan"])
    )


async def _explained(world: World, statement: str, *arguments: Any) -> tuple[int, int]:
    """(rows of the log read, rows the statement returned), the statement run and undone."""

    async with world.owner.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        try:
            explained = await connection.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, *arguments)
        finally:
            await transaction.rollback()
    plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]
    return _log_rows_read(plan), plan["Plan"]["Actual Rows"]


async def test_the_sending_write_reads_only_its_group(world: World) -> None:
    claimed = await _backlog(world)
    group = [(row["delivery_id"], row["claim_token"], 75.0) for row in claimed]

    read, began = await _explained(
        world, delivery_groups.BEGIN_SENDING, *(list(column) for column in zip(*group, strict=True))
    )

    assert began == GROUP
    assert read <= 2 * GROUP, f"read {read} rows of the log for a group of {GROUP}"


async def test_the_sent_write_reads_only_its_group(world: World) -> None:
    claimed = await _backlog(world)
    async with world.pool.acquire() as connection:
        began = await delivery_groups.begin_sending_many(
            connection, [(row["delivery_id"], row["claim_token"], 75.0) for row in claimed]
        )
    assert len(began) == GROUP
    ids = [row["delivery_id"] for row in claimed]
    tokens = [row["claim_token"] for row in claimed]
    no_events: list[list[Any]] = [[] for _ in range(8)]

    read, settled = await _explained(
        world,
        delivery_groups.SETTLE_SENT,
        ids,
        tokens,
        ["webhook"] * GROUP,
        [str(uuid.uuid4()) for _ in range(GROUP)],
        ["fr"] * GROUP,
        *no_events,
    )

    assert settled == GROUP
    assert read <= 2 * GROUP, f"read {read} rows of the log for a group of {GROUP}"
