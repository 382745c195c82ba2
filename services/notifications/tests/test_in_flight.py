"""Sends in flight: at most ``concurrency`` in a slot, a slot freed is taken at once by the
next queued job (not when a group of them is done), and at the end nothing queued starts."""

from __future__ import annotations

import asyncio

import pytest

from refuge_notifications.service_layer.in_flight import InFlight


class Jobs:
    """Jobs that each take a slot, say so, and hold it until released one by one."""

    def __init__(self, sends: InFlight) -> None:
        self.sends = sends
        self.started: list[int] = []
        self.finished: list[int] = []
        self.releases: dict[int, asyncio.Event] = {}

    def add(self, number: int) -> None:
        self.releases[number] = asyncio.Event()
        self.sends.add(self._job(number))

    async def _job(self, number: int) -> None:
        async with self.sends.slot():
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
