"""Background loop: forget Idempotency-Key records older than the retention period."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import asyncpg

from refuge_common.observability.logging import get_logger

log = get_logger(__name__)


class IdempotencyPurge:
    """Deletes expired records a batch per transaction, so that a large backlog (after a
    long outage of the loop) never holds many row locks or one long transaction."""

    def __init__(
        self,
        pool_provider: Callable[[], asyncpg.Pool],
        *,
        retention: timedelta,
        interval_seconds: float = 600,
        batch_size: int = 1000,
    ) -> None:
        self._pool_provider = pool_provider
        self._retention = retention
        self._interval = interval_seconds
        self._batch = batch_size

    async def purge_once(self) -> int:
        pool = self._pool_provider()
        total = 0
        while True:
            purged: int = await pool.fetchval(
                "SELECT purge_idempotency_keys($1, $2)", self._retention, self._batch
            )
            total += purged
            if purged < self._batch:
                break
        if total:
            log.info("idempotency_keys_purged", count=total)
        return total

    async def run(self) -> None:
        while True:
            await self.purge_once()
            await asyncio.sleep(self._interval)
