"""Group commit: writes that arrive while the previous group is being written go together.

At low load each write goes at once, alone; under load, every caller that arrived during
one transaction shares the next one. Each caller waits for its own result, so nothing
it does next (call a provider, report a send) runs before its write is committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    def __init__(self, write: Callable[[list[Item]], Awaitable[list[Result]]]) -> None:
        """``write`` writes a group in one transaction and returns each item's result, in order."""

        self._write = write
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """``item``'s result once its group is committed; the group's error if it failed."""

        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_while_waiting())
        return await done

    async def _write_while_waiting(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                results = await self._write([item for item, _ in group])
            except Exception as error:  # every caller of the group gets it
                _fail(group, error)
            except BaseException:
                # Cancelled (the dispatcher stopping): no caller may wait for ever on a write
                # that will not happen, whether its group was being written or still queued.
                waiting, self._waiting = self._waiting, []
                _fail(group + waiting, asyncio.CancelledError())
                raise
            else:
                for (_, done), result in zip(group, results, strict=True):
                    if not done.done():
                        done.set_result(result)


def _fail(group: list[tuple[Item, asyncio.Future[Result]]], error: BaseException) -> None:
    for _, done in group:
        if not done.done():
            done.set_exception(error)
