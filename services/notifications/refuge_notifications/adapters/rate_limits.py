"""Per-provider send rates: at most N messages a second to one provider account.

pyrate-limiter's in-memory sliding-window buckets (already installed, typed, async): one
limiter per provider account, created on first use. The limit holds per dispatcher process;
replicas of the service each get the full rate, so an organisation running several should
give each a share of its provider's limit.
"""

from __future__ import annotations

from pyrate_limiter import Duration, InMemoryBucket, Limiter, Rate


class ProviderRateLimits:
    def __init__(self) -> None:
        self._limiters: dict[tuple[str, int], Limiter] = {}

    async def acquire(self, key: str, per_second: int, wait_seconds: float) -> bool:
        """Wait (at most ``wait_seconds``) for a slot to send one message through ``key``;
        False if none came in time. ``per_second`` 0 or less: no limit."""

        if per_second <= 0:
            return True
        limiter = self._limiters.get((key, per_second))
        if limiter is None:
            limiter = Limiter(InMemoryBucket([Rate(per_second, Duration.SECOND)]))
            self._limiters[(key, per_second)] = limiter
        return await limiter.try_acquire_async(key, blocking=True, timeout=wait_seconds)
