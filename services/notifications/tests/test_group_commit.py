"""Group commit: callers that arrive together share one write, each gets its own result,
and a failed write fails every caller of its group (none is told its row was written)."""

from __future__ import annotations

import asyncio

from refuge_notifications.service_layer.group_commit import GroupCommit


async def test_callers_arriving_together_share_one_write_and_get_their_own_results() -> None:
    groups: list[list[int]] = []

    async def write(items: list[int]) -> list[int]:
        groups.append(items)
        await asyncio.sleep(0)
        return [item * 10 for item in items]

    commit: GroupCommit[int, int] = GroupCommit(write)
    assert await asyncio.gather(*(commit.submit(n) for n in (1, 2, 3))) == [10, 20, 30]
    assert groups == [[1, 2, 3]]
    assert await commit.submit(4) == 40  # alone, at once, when nobody else waits
    assert groups[-1] == [4]


async def test_callers_arriving_during_a_write_go_in_the_next_one() -> None:
    groups: list[list[str]] = []
    writing, release = asyncio.Event(), asyncio.Event()

    async def write(items: list[str]) -> list[str]:
        groups.append(items)
        writing.set()
        if len(groups) == 1:
            await release.wait()
        return items

    commit: GroupCommit[str, str] = GroupCommit(write)
    first = asyncio.create_task(commit.submit("a"))
    await writing.wait()
    later = [asyncio.create_task(commit.submit(name)) for name in ("b", "c")]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(first, *later) == ["a", "b", "c"]
    assert groups == [["a"], ["b", "c"]]


async def test_a_failed_write_fails_every_caller_of_its_group_and_not_the_next() -> None:
    calls = 0

    async def write(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database gone")
        return items

    commit: GroupCommit[int, int] = GroupCommit(write)
    results = await asyncio.gather(commit.submit(1), commit.submit(2), return_exceptions=True)
    assert all(isinstance(result, ConnectionError) for result in results)
    assert await commit.submit(3) == 3


async def test_a_cancelled_writer_leaves_no_caller_waiting_for_ever() -> None:
    # The dispatcher stopping cancels the writer mid-write: its group and the callers queued
    # behind it must be told, or they would wait on a write that never happens.
    writing = asyncio.Event()

    async def write(items: list[int]) -> list[int]:
        writing.set()
        await asyncio.Event().wait()
        return items

    commit: GroupCommit[int, int] = GroupCommit(write)
    first = asyncio.create_task(commit.submit(1))
    await writing.wait()
    queued = asyncio.create_task(commit.submit(2))
    await asyncio.sleep(0)
    assert commit._writer is not None
    commit._writer.cancel()
    results = await asyncio.wait_for(asyncio.gather(first, queued, return_exceptions=True), 10)
    assert all(isinstance(result, asyncio.CancelledError) for result in results)
