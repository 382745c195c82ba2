"""Sends in flight: at most ``concurrency`` in a slot, a slot freed is taken at once by the
next queued job (not when a group of them is done), and at the end nothing queued starts.
A provider account holds at most its cap of the slots; its other jobs wait for it without
holding one, give up at their deadline, and once a claim's worth is queued they neither
count against the claimer's room nor let the claimer take more of the account's rows."""

from __future__ import annotations

import asyncio
import time

import pytest

from refuge_notifications.service_layer.in_flight import InFlight


class Jobs:
    """Jobs that each take a slot, say so, and hold it until released one by one."""

    def __init__(self, sends: InFlight) -> None:
        self.sends = sends
        self.started: list[int] = []
        self.finished: list[int] = []
        self.releases: dict[int, asyncio.Event] = {}
        self.gave_up: list[int] = []

    def add(
        self, number: int, account: str | None = None, *, cap: int = 1, deadline: float = float("inf")
    ) -> None:
        self.releases[number] = asyncio.Event()
        self.sends.add(self._job(number), account=account, cap=cap, scope=account, deadline=deadline)

    async def _job(self, number: int) -> None:
        async with self.sends.slot() as taken:
            if not taken:
                self.gave_up.append(number)
                return
            self.started.append(number)
            await self.releases[number].wait()
        self.finished.append(number)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_held_slot_holds_only_itself_and_a_freed_one_is_taken_at_once() -> None:
    async with InFlight(2) as sends:
        jobs = Jobs(sends)
        for number in range(5):
            jobs.add(number)
        assert sends.queued == 5  # counted at once, before any has run
        await _settle()
        assert jobs.started == [0, 1] and sends.queued == 3
        jobs.releases[1].set()  # 0 stays held: 2 goes in 1's slot, without waiting for 0
        await _settle()
        assert jobs.started == [0, 1, 2] and jobs.finished == [1]
        jobs.releases[2].set()
        await _settle()
        assert jobs.started == [0, 1, 2, 3] and sends.queued == 1
        for release in jobs.releases.values():
            release.set()
    assert sorted(jobs.finished) == [0, 1, 2, 3, 4]


async def test_room_is_made_as_queued_jobs_take_slots() -> None:
    async with InFlight(1) as sends:
        jobs = Jobs(sends)
        for number in range(3):
            jobs.add(number)
        await _settle()
        assert not await sends.room(below=2, seconds=0.01)  # 0 in the slot, 1 and 2 queued
        waiting = asyncio.create_task(sends.room(below=2, seconds=30))
        await _settle()
        assert not waiting.done()
        jobs.releases[0].set()
        assert await waiting
        for release in jobs.releases.values():
            release.set()


async def test_a_stop_cancels_the_jobs_in_slots_and_starts_no_queued_one() -> None:
    jobs = Jobs(InFlight(2))

    async def run() -> None:
        async with jobs.sends:
            for number in range(4):
                jobs.add(number)
            await asyncio.Event().wait()

    task = asyncio.create_task(run())
    await _settle()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert jobs.started == [0, 1] and jobs.finished == []
    await _settle()
    assert jobs.started == [0, 1]


async def test_an_error_of_the_claimer_lets_the_started_jobs_finish_and_starts_no_queued_one() -> None:
    jobs = Jobs(InFlight(2))

    async def run() -> None:
        async with jobs.sends:
            for number in range(4):
                jobs.add(number)
            await _settle()
            jobs.releases[0].set()
            await _settle()  # 2 took 0's slot
            asyncio.get_running_loop().call_later(0.01, jobs.releases[1].set)
            asyncio.get_running_loop().call_later(0.01, jobs.releases[2].set)
            raise RuntimeError("the claim failed")

    with pytest.raises(RuntimeError):
        await run()
    assert jobs.started == [0, 1, 2] and sorted(jobs.finished) == [0, 1, 2]


async def test_a_stalled_account_holds_only_its_cap_and_its_other_jobs_wait_without_a_slot() -> None:
    async with InFlight(3) as sends:
        jobs = Jobs(sends)
        for number in range(4):
            jobs.add(number, "smtp", cap=2)  # 0 and 1 stall: 2 and 3 wait for them, not in a slot
        jobs.add(4, "sms:a", cap=2)
        jobs.add(5, "sms:b", cap=2)  # claimed last: still sent while smtp is stalled
        await _settle()
        assert jobs.started == [0, 1, 4] and sends.queued == 3
        jobs.releases[4].set()
        await _settle()
        assert jobs.started == [0, 1, 4, 5]
        jobs.releases[0].set()  # smtp frees a place: its next job, in claim order
        await _settle()
        assert jobs.started == [0, 1, 4, 5, 2]
        for release in jobs.releases.values():
            release.set()
    assert sorted(jobs.finished) == list(range(6))


async def test_a_job_waiting_for_its_account_past_its_deadline_gives_up_holding_nothing() -> None:
    async with InFlight(2) as sends:
        jobs = Jobs(sends)
        jobs.add(0, "sms:a")
        jobs.add(1, "sms:a", deadline=time.monotonic() + 0.05)
        await _settle()
        assert sends.queued == 1
        await asyncio.sleep(0.1)
        assert jobs.gave_up == [1] and sends.queued == 0
        jobs.add(2, "sms:b")  # the slot 1 never held is free
        await _settle()
        assert jobs.started == [0, 2]
        jobs.releases[0].set()
        jobs.add(3, "sms:a")  # and so is sms:a's place
        await _settle()
        assert jobs.started == [0, 2, 3]
        for release in jobs.releases.values():
            release.set()


async def test_a_full_account_leaves_the_claimer_room_and_says_what_not_to_claim() -> None:
    unblocked: list[bool] = []
    async with InFlight(2, full_at=3, unblocked=lambda: unblocked.append(True)) as sends:
        jobs = Jobs(sends)
        for number in range(4):
            jobs.add(number, "smtp")  # 0 in a slot, 1 to 3 queued for smtp: full
        jobs.add(4, "sms:a", cap=1)
        jobs.add(5, "sms:a", cap=1)
        await _settle()
        assert sends.queued == 4 and sends.full_scopes() == {"smtp"}
        assert await sends.room(below=2, seconds=0)  # only sms:a's 5 counts
        jobs.add(6, "sms:a", cap=1)
        assert not await sends.room(below=2, seconds=0)
        assert unblocked == []
        jobs.releases[0].set()  # 1 takes smtp's place: 2 queued, full no more
        await _settle()
        assert unblocked == [True] and sends.full_scopes() == set()
        for release in jobs.releases.values():
            release.set()
    assert sorted(jobs.finished) == list(range(7))


async def test_stalled_accounts_give_their_slots_back_and_the_slots_still_bound_the_others() -> None:
    # Stalled after 1 s; looked at 1.5 s in: the first two have stalled, the third not yet.
    async with InFlight(2, stalled_after=1.0) as sends:
        jobs = Jobs(sends)
        try:
            jobs.add(0, "sms:a")
            jobs.add(1, "sms:b")  # each within its cap, together every slot
            jobs.add(2, "sms:c")
            await _settle()
            assert jobs.started == [0, 1]
            await asyncio.sleep(1.5)
            assert jobs.started == [0, 1, 2] and sends.stalled == 2
            jobs.add(3, "sms:d", cap=2)
            jobs.add(4, "sms:d", cap=2)
            await _settle()
            assert jobs.started == [0, 1, 2, 3]  # 2 and 3 hold the two slots; 4 waits for one
            jobs.releases[0].set()
            jobs.releases[1].set()
            await _settle()
            assert sends.stalled == 0 and jobs.started == [0, 1, 2, 3]  # they held no slot to free
            jobs.releases[2].set()
            await _settle()
            assert jobs.started == [0, 1, 2, 3, 4]  # one slot freed, one job in
        finally:  # a failed assertion must not leave the jobs holding the test open
            for release in jobs.releases.values():
                release.set()
    assert sorted(jobs.finished) == list(range(5))
