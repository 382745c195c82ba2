"""Sends in flight: each claimed message in its own task, at most ``concurrency`` of them
holding a send slot at once, the others queued for one in the order they were added.

No send waits for another to finish beyond waiting for a free slot: a slow provider
exchange holds its own slot, not a batch. The claimer asks :meth:`InFlight.room` before
claiming more, so that it claims as slots free up and never far more than can be sent
before the claims' leases lapse.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from types import TracebackType
from typing import Any


class InFlight:
    def __init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._queued: set[asyncio.Task[None]] = set()  # waiting for a slot: nothing sent yet
        self._started: set[asyncio.Task[None]] = set()  # in a slot, or needing none
        self._room = asyncio.Event()
        self._room_below = 0
        self._slot = _Slot(self)

    @property
    def queued(self) -> int:
        """Jobs added that have not taken a slot yet."""

        return len(self._queued)

    def add(self, job: Coroutine[Any, Any, None], *, needs_slot: bool = True) -> None:
        """Run ``job`` in a task of its own; with ``needs_slot``, it is counted as queued
        (at once, before it runs) until it enters :meth:`slot`."""

        task = asyncio.create_task(job)
        (self._queued if needs_slot else self._started).add(task)
        task.add_done_callback(self._forget)

    def slot(self) -> _Slot:
        """``async with in_flight.slot():`` holds one of the ``concurrency`` send slots."""

        return self._slot

    async def _take_slot(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        try:
            await self._slots.acquire()
        finally:  # taken, or cancelled while it waited: queued no more either way
            if task in self._queued:
                self._queued.discard(task)
                self._left_queue()
        self._started.add(task)

    async def room(self, below: int, seconds: float) -> bool:
        """Wait until fewer than ``below`` jobs are queued, ``seconds`` at most; whether
        there are."""

        if len(self._queued) < below:
            return True
        self._room_below = below
        self._room.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._room.wait()
        return len(self._queued) < below

    def _forget(self, task: asyncio.Task[None]) -> None:
        if task in self._queued:
            self._queued.discard(task)
            self._left_queue()
        self._started.discard(task)

    def _left_queue(self) -> None:
        if len(self._queued) < self._room_below:
            self._room.set()

    async def __aenter__(self) -> InFlight:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, _error: BaseException | None, _tb: TracebackType | None
    ) -> None:
        """On a stop (cancelled), every job is cancelled: a queued one has sent nothing (its
        claim lapses), one in progress ends as a cancelled send does. On an error of the
        caller (a claim that failed), the started jobs finish, as they would have had it not
        failed, and the queued ones are cancelled. Otherwise every job finishes."""

        stopping = kind is not None and issubclass(kind, asyncio.CancelledError)
        for task in [*(self._queued if kind else ()), *(self._started if stopping else ())]:
            task.cancel()
        running = [*self._queued, *self._started]
        try:
            await asyncio.gather(*running, return_exceptions=True)
        except asyncio.CancelledError:  # stopped while they finished: stop them too
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise


class _Slot:
    # Not ``contextlib.asynccontextmanager``: its generator cost a few µs of CPU per send.
    __slots__ = ("_in_flight",)

    def __init__(self, in_flight: InFlight) -> None:
        self._in_flight = in_flight

    async def __aenter__(self) -> None:
        await self._in_flight._take_slot()

    async def __aexit__(self, *_exc: object) -> None:
        self._in_flight._slots.release()
