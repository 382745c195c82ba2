"""Wake a polling loop early with PostgreSQL LISTEN/NOTIFY; polling stays the fallback."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

import asyncpg
from asyncpg.pool import PoolConnectionProxy


class Wakeup:
    """``async with Wakeup(pool, channel) as wakeup: ... await wakeup.wait(timeout)``.

    Holds one pooled connection listening on ``channel`` for the life of the loop.
    A notification only shortens the wait; it carries no data, so one lost while
    the connection was busy costs at most one polling interval.
    """

    def __init__(self, pool: asyncpg.Pool, channel: str) -> None:
        self._pool = pool
        self._channel = channel
        self._event = asyncio.Event()
        self._connection: PoolConnectionProxy[asyncpg.Record] | None = None

    async def __aenter__(self) -> Wakeup:
        connection = await self._pool.acquire()
        try:
            await connection.add_listener(self._channel, self._notified)
        except BaseException:
            # Cancelled during LISTEN (a stop at start-up): give the connection back,
            # or the pool's close() waits for it forever.
            await self._pool.release(connection)
            raise
        self._connection = connection
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _error: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if self._connection is None:
            return
        with contextlib.suppress(Exception):
            await self._connection.remove_listener(self._channel, self._notified)
        await self._pool.release(self._connection)
        self._connection = None

    async def wait(self, seconds: float) -> None:
        """Return on the next notification, or after ``seconds``."""

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout=max(0.0, seconds))
        self._event.clear()

    def nudge(self) -> None:
        """Wake the loop as a notification would: a writer in this process has committed."""

        self._event.set()

    def _notified(self, *_args: object) -> None:
        self._event.set()
