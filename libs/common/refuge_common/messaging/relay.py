"""Outbox relay: publish committed outbox rows in order per key, then delete them.

Several relays may run against one schema. Each claims a batch with
``FOR UPDATE SKIP LOCKED`` and keeps only the rows with no earlier unpublished row
of the same key held by another relay, so per-key order survives concurrency.
Producers keep commit order per key by locking the aggregate they change.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

import asyncpg

from refuge_common.contract.envelope import KafkaRecord
from refuge_common.db.wakeup import Wakeup
from refuge_common.messaging.producer import EventProducer
from refuge_common.observability.logging import get_logger
from refuge_common.observability.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE

log = get_logger(__name__)

CLAIM = """
WITH claimed AS (
    SELECT id, key FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
)
SELECT o.id, o.topic, o.key, o.value, o.headers
FROM outbox o JOIN claimed c ON c.id = o.id
WHERE NOT EXISTS (
    SELECT 1 FROM outbox earlier
    WHERE earlier.key = c.key AND earlier.id < c.id
      AND earlier.id NOT IN (SELECT id FROM claimed)
)
ORDER BY o.id
"""


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: EventProducer,
        *,
        schema: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        linger: float = 0.0,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._schema = schema
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._linger = linger
        self._task: asyncio.Task[None] | None = None
        self._wakeup: Wakeup | None = None

    async def publish_batch(self) -> int:
        """Publish one batch; return how many rows left the outbox."""

        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(CLAIM, self._batch_size)
            if not rows:
                return 0
            records = [
                KafkaRecord(
                    topic=row["topic"],
                    key=bytes(row["key"]),
                    value=bytes(row["value"]),
                    headers=[(name, value.encode()) for name, value in row["headers"].items()],
                )
                for row in rows
            ]
            # If publishing fails the transaction rolls back and the rows are retried;
            # consumers deduplicate what was already sent.
            await self._producer.send_in_order(records)
            await connection.execute(
                "DELETE FROM outbox WHERE id = ANY($1::bigint[])", [row["id"] for row in rows]
            )
        return len(rows)

    async def run(self) -> None:
        async with Wakeup(self._pool, f"{self._schema}_outbox") as wakeup:
            self._wakeup = wakeup
            try:
                await self._cycle(wakeup)
            finally:
                self._wakeup = None

    async def _cycle(self, wakeup: Wakeup) -> None:
        recorded_at = 0.0
        while True:
            try:
                published: int | None = await self.publish_batch()
            except Exception as error:
                log.warning("outbox_publish_failed", error=str(error), error_type=type(error).__name__)
                published = None
            # The gauges must also move while publishing fails or a backlog drains in full
            # batches: a growing backlog is what they are there to show. But at most once
            # per poll interval: under a steady trickle of writes every cycle is "idle",
            # and a count(*) per cycle cost intake more PostgreSQL time than the writes.
            idle = published is not None and published < self._batch_size
            if time.monotonic() - recorded_at >= self._poll_interval:
                recorded_at = time.monotonic()
                await self._record_backlog_quietly()
            if published is None:
                await asyncio.sleep(self._poll_interval)
            elif published and idle and self._linger:
                # Writes are arriving one by one: each wakes the relay, and a cycle per
                # write (claim, produce, delete, commit) costs as much as the write. Let a
                # few gather; the first after a quiet spell still leaves without waiting.
                await asyncio.sleep(self._linger)
            elif idle:
                await wakeup.wait(self._poll_interval)

    async def _record_backlog_quietly(self) -> None:
        try:
            await self._record_backlog()
        except Exception as error:  # metrics only: a lost connection must not stop the relay
            log.warning("outbox_backlog_failed", error=str(error), error_type=type(error).__name__)

    async def _record_backlog(self) -> None:
        row = await self._pool.fetchrow("SELECT count(*) AS n, min(created_at) AS oldest FROM outbox")
        if row is None:
            return
        OUTBOX_BACKLOG.set(row["n"])
        oldest = row["oldest"]
        OUTBOX_OLDEST_AGE.set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0)

    @property
    def listening(self) -> bool:
        """Running, and woken by :meth:`nudge` as by a NOTIFY."""

        return self._wakeup is not None and self.running

    def nudge(self) -> None:
        """Rows were committed in this process: publish them without waiting for a NOTIFY
        (see intake's migration 0007, whose writes nudge instead of notifying)."""

        if self._wakeup is not None:
            self._wakeup.nudge()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"outbox-relay-{self._schema}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
