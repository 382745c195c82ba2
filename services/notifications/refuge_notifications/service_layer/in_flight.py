"""Sends in flight: each claimed message in its own task, at most ``concurrency`` of them
holding a send slot at once, the others queued for one in the order they were added.

No send waits for another to finish beyond waiting for a free slot: a slow provider
exchange holds its own slot, not a batch. The claimer asks :meth:`InFlight.room` before
claiming more, so that it claims as slots free up and never far more than can be sent
before the claims' leases lapse.

A provider that stalls entirely must not take every slot: each job names its provider
account and that account's cap, and waits for one of the account's places *before* it
queues for a slot, so that a message waiting for its provider holds no slot another
provider's message could use (the SMTP connection pool is such a cap: an e-mail no longer
waits for a connection inside a slot). An account with a whole claim's worth of jobs
queued is *full*: :meth:`InFlight.full_scopes` names what the claimer should leave
unclaimed, and its jobs do not count against :meth:`InFlight.room`, so that a stalled
provider's backlog, due before everything else, cannot stop the claiming of the others.

A job of an account that has held its slot for ``stalled_after`` seconds gives the slot back
and goes on under its account's place alone: a provider's exchange takes well under a second,
so one that long is stalled (or waits for the account's rate limit). Without this, two stalled
accounts, each within its cap, held every slot between them, and no other organisation's
message was sent until their timeouts; with it, the slots bound the sends that are moving,
and each account's cap still bounds what one stalled provider holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Hashable
from types import TracebackType
from typing import Any

_NEVER = float("inf")
# A provider exchange (HTTP for an SMS, an SMTP transaction) takes milliseconds to a second;
# past this, the send is stalled, not slow.
STALLED_AFTER_SECONDS = 5.0


class InFlight:
    def __init__(
        self,
        concurrency: int,
        *,
        full_at: int = 0,
        unblocked: Callable[[], None] = lambda: None,
        stalled_after: float = STALLED_AFTER_SECONDS,
    ) -> None:
        """``full_at``: jobs queued for one account that make it full (0: never); ``unblocked``
        is called when an account stops being full (its rows may be claimed again);
        ``stalled_after``: seconds after which an account's job gives its slot back."""

        self._slots = asyncio.Semaphore(concurrency)
        self._stalled_after = stalled_after
        self.stalled = 0  # jobs in progress that gave their slot back
        self._queued: set[asyncio.Task[None]] = set()  # waiting for a slot: nothing sent yet
        self._started: set[asyncio.Task[None]] = set()  # in a slot, or needing none
        self._jobs: dict[asyncio.Task[None], _Job] = {}
        self._accounts: dict[str, _Account] = {}
        self._full_at = full_at
        self._unblocked = unblocked
        self._room = asyncio.Event()
        self._room_below = 0
        self._queued_when_full = 0  # jobs queued for full accounts (not counted by ``room``)

    @property
    def queued(self) -> int:
        """Jobs added that have not taken a slot yet."""

        return len(self._queued)

    def add(
        self,
        job: Coroutine[Any, Any, None],
        *,
        needs_slot: bool = True,
        account: str | None = None,
        cap: int = 0,
        scope: Hashable = None,
        deadline: float = _NEVER,
    ) -> None:
        """Run ``job`` in a task of its own; with ``needs_slot``, it is counted as queued
        (at once, before it runs) until it enters :meth:`slot`. With an ``account``, its slot
        is taken only once one of the account's ``cap`` places is (waited for until
        ``deadline``, ``time.monotonic``); ``scope`` is what :meth:`full_scopes` names for it."""

        task = asyncio.create_task(job)
        if needs_slot:
            self._queued.add(task)
            place = None
            if account is not None:
                place = self._accounts.get(account)
                if place is None:
                    place = self._accounts[account] = _Account(max(1, cap))
                self._count_queued(place, +1)
                place.scopes[scope] += 1
            self._jobs[task] = _Job(self, place, scope, deadline)
        else:
            self._started.add(task)
        task.add_done_callback(self._forget)

    def slot(self) -> _Job:
        """``async with in_flight.slot() as taken:`` holds one of the ``concurrency`` send
        slots (and one of its account's places) if ``taken``; not taken: the account's
        place did not come before the job's deadline, and nothing is held."""

        task = asyncio.current_task()
        assert task is not None
        return self._jobs[task]

    def full_scopes(self) -> set[Hashable]:
        """The scopes of the jobs queued for full accounts: claim none of those for now."""

        return {scope for place in self._accounts.values() if self._full(place) for scope in place.scopes}

    async def room(self, below: int, seconds: float) -> bool:
        """Wait until fewer than ``below`` jobs of accounts that are not full are queued,
        ``seconds`` at most; whether there are."""

        if self._counted() < below:
            return True
        self._room_below = below
        self._room.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._room.wait()
        return self._counted() < below

    def _full(self, place: _Account) -> bool:
        return 0 < self._full_at <= place.queued

    def _counted(self) -> int:
        return len(self._queued) - self._queued_when_full

    def _count_queued(self, place: _Account, change: int) -> bool:
        """Change ``place``'s queued jobs by ``change``, keeping the count of those queued for
        full accounts (asked on every job's way into a slot: not summed over the accounts);
        whether it was full before."""

        was_full = self._full(place)
        if was_full:
            self._queued_when_full -= place.queued
        place.queued += change
        if self._full(place):
            self._queued_when_full += place.queued
        return was_full

    def _left_queue(self, task: asyncio.Task[None]) -> None:
        self._queued.discard(task)
        job = self._jobs.get(task)
        place = job.account if job is not None else None
        if place is not None and job is not None:
            was_full = self._count_queued(place, -1)
            place.scopes[job.scope] -= 1
            if place.scopes[job.scope] <= 0:
                del place.scopes[job.scope]
            if was_full and not self._full(place):
                self._unblocked()
        if self._room_below and self._counted() < self._room_below:
            self._room.set()

    def _forget(self, task: asyncio.Task[None]) -> None:
        if task in self._queued:
            self._left_queue(task)
        self._jobs.pop(task, None)
        self._started.discard(task)

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


class _Account:
    __slots__ = ("places", "queued", "scopes")

    def __init__(self, cap: int) -> None:
        self.places = asyncio.Semaphore(cap)
        self.queued = 0  # its jobs not yet in a slot
        self.scopes: Counter[Hashable] = Counter()


class _Job:
    # Not ``contextlib.asynccontextmanager``: its generator cost a few µs of CPU per send.
    __slots__ = (
        "_in_flight",
        "_stall_timer",
        "account",
        "deadline",
        "holds_place",
        "holds_slot",
        "scope",
        "taken",
    )

    def __init__(
        self, in_flight: InFlight, account: _Account | None, scope: Hashable, deadline: float
    ) -> None:
        self._in_flight = in_flight
        self.account = account
        self.scope = scope
        self.deadline = deadline
        self.holds_place = False
        self.holds_slot = False
        self.taken = False
        self._stall_timer: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> bool:
        task = asyncio.current_task()
        assert task is not None
        in_flight = self._in_flight
        try:
            if self.account is not None:
                places = self.account.places
                if places.locked():  # its provider is busy: wait for it without holding a slot
                    try:
                        left = self.deadline - time.monotonic() if self.deadline < _NEVER else None
                        async with asyncio.timeout(left):
                            await places.acquire()
                    except TimeoutError:
                        return False
                else:
                    await places.acquire()
                self.holds_place = True
            try:
                await in_flight._slots.acquire()
            except BaseException:
                self._release_place()
                raise
        finally:  # taken, given up or cancelled while it waited: queued no more either way
            if task in in_flight._queued:
                in_flight._left_queue(task)
        in_flight._started.add(task)
        self.taken = self.holds_slot = True
        if self.account is not None:  # its account's place still bounds it once it lets go
            self._stall_timer = asyncio.get_running_loop().call_later(
                in_flight._stalled_after, self._give_slot_back
            )
        return True

    async def __aexit__(self, *_exc: object) -> None:
        if self.taken:
            self.taken = False
            if self._stall_timer is not None:
                self._stall_timer.cancel()
                self._stall_timer = None
            if self.holds_slot:
                self.holds_slot = False
                self._in_flight._slots.release()
            else:
                self._in_flight.stalled -= 1
            self._release_place()

    def _give_slot_back(self) -> None:
        self._stall_timer = None
        if self.taken and self.holds_slot:
            self.holds_slot = False
            self._in_flight.stalled += 1
            self._in_flight._slots.release()

    def _release_place(self) -> None:
        if self.holds_place:
            assert self.account is not None
            self.account.places.release()
            self.holds_place = False
