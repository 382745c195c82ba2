"""A background task that plans the weekly caseworker digests (``service_layer.weekly_digest``).

It only plans: the dispatcher sends. Every run is idempotent, so the interval only bounds how
late after Monday morning a digest goes out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from refuge_common.messaging.consumer import describe_failure
from refuge_common.observability.logging import get_logger
from refuge_notifications.service_layer.outgoing import Clock
from refuge_notifications.service_layer.weekly_digest import plan_weekly_digests

log = get_logger(__name__)


class DigestScheduler:
    def __init__(
        self,
        pool_provider: Callable[[], asyncpg.Pool],
        clock: Clock,
        *,
        interval_seconds: float,
        horizon_days: int,
        send_hour: int,
    ) -> None:
        self._pool_provider = pool_provider
        self._clock = clock
        self._interval = interval_seconds
        self._horizon_days = horizon_days
        self._send_hour = send_hour

    async def run(self) -> None:
        pool = self._pool_provider()
        while True:
            try:
                planned = await plan_weekly_digests(
                    pool, self._clock(), horizon_days=self._horizon_days, send_hour=self._send_hour
                )
                if planned:
                    log.info("weekly_digests_planned", count=planned)
            except Exception as error:  # the next run tries again; nothing was half-planned
                log.error("weekly_digest_failed", error=describe_failure(error))
            await asyncio.sleep(self._interval)
