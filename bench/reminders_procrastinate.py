"""procrastinate beside Refuge's timer worker: the same timers, as deferred jobs.

procrastinate (its ``PsycopgConnector``: psycopg 3, C build) on the same PostgreSQL
server, in a fresh database of its own with procrastinate's schema applied. The task
does nothing (``remind``, one keyword argument: a reminder id). Jobs are deferred with
procrastinate's batch defer, 1,000 per call: ``JobManager.batch_defer_jobs_async``,
what ``Task.batch_defer_async`` calls, used directly because it takes each job's own
``scheduled_at``; in random order of due time, like Refuge's timers.

- *Capacity*: every job due when the workers start; jobs finished per second, from
  the workers' start to the last ``succeeded`` event.
- *Paced*: jobs come due at half that rate from a few seconds after deferring ends
  (the target's 20,000/s would only measure a growing backlog). The lag of a job is
  its ``started`` event's time (procrastinate's own events table: ``now()`` of the
  statement that fetched the job) minus its ``scheduled_at``.

Workers: procrastinate's own (``App.run_worker_async``), 2 processes with concurrency
10 each, ``fetch_job_polling_interval`` 1 s (default 5 s; 1 s is the Refuge worker's
poll), LISTEN/NOTIFY on and jobs kept (the defaults). That was its fastest set-up
here: with concurrency 1, or in one process, it finished fewer jobs per second.

procrastinate runs each job in transactions of its own (one to fetch it, one to
finish it, two commits per job) where the Refuge worker fires 1,000 timers per
transaction: a million jobs would take more than an hour here. So it gets 1% of the
Refuge count (10,000 jobs at full scale); its rate is what is compared. Its tables are
then smaller than Refuge's, which only helps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event as EventType
from typing import Any

import asyncpg
import procrastinate
from procrastinate.jobs import Job

from bench.common import Row, cpu_busy_percent, cpu_jiffies, create_database, drop_database, rate

NAME = "reminders"
SHARE = 0.01  # of the Refuge count
PROCESSES = 2
CONCURRENCY = 10
POLL_SECONDS = 1.0
PER_CALL = 1_000
PACED_SECONDS = 20.0  # at full scale
LEAD_SECONDS = 5.0
TASK = "remind"


def _app(url: str) -> procrastinate.App:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=CONCURRENCY + 2)
    )

    @app.task(name=TASK)
    async def remind(reminder_id: str) -> None:
        return None

    return app


async def _defer(url: str, count: int, start: datetime, due_rate: float) -> float:
    """Defer ``count`` jobs, the ``i``-th due at ``start + i / due_rate``; jobs deferred per second."""

    order = list(range(count))
    random.Random(11).shuffle(order)
    app = _app(url)
    async with app.open_async():
        started = time.perf_counter()
        for first in range(0, count, PER_CALL):
            jobs = [
                Job(
                    queue="default",
                    lock=None,
                    queueing_lock=None,
                    task_name=TASK,
                    task_kwargs={"reminder_id": str(uuid.uuid4())},
                    scheduled_at=start + timedelta(seconds=position / due_rate),
                )
                for position in order[first : first + PER_CALL]
            ]
            await app.job_manager.batch_defer_jobs_async(jobs)
        return count / (time.perf_counter() - started)


def _worker(url: str, events: tuple[EventType, EventType, EventType]) -> None:
    """Entry point of a spawned process: one procrastinate worker."""

    asyncio.run(_run_worker(url, events))


async def _run_worker(url: str, events: tuple[EventType, EventType, EventType]) -> None:
    ready, go, stop = events
    app = _app(url)
    async with app.open_async():
        ready.set()
        await asyncio.to_thread(go.wait)
        task = asyncio.create_task(
            app.run_worker_async(
                concurrency=CONCURRENCY,
                fetch_job_polling_interval=POLL_SECONDS,
                install_signal_handlers=False,
            )
        )
        await asyncio.to_thread(stop.wait)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


STATS = """
SELECT count(*) FILTER (WHERE e.type = 'succeeded') AS done,
       max(e.at) FILTER (WHERE e.type = 'succeeded') AS last_done,
       min(j.scheduled_at) AS first_due, max(j.scheduled_at) AS last_due,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.at - j.scheduled_at))
           FILTER (WHERE e.type = 'started') AS lag_p50,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM e.at - j.scheduled_at))
           FILTER (WHERE e.type = 'started') AS lag_p99,
       max(extract(epoch FROM e.at - j.scheduled_at)) FILTER (WHERE e.type = 'started') AS lag_max
FROM procrastinate_jobs AS j JOIN procrastinate_events AS e ON e.job_id = j.id
"""


async def _run(count: int, start: datetime, due_rate: float) -> dict[str, Any]:
    """Defer ``count`` jobs in a fresh database, then run them with the workers; the figures."""

    url = await create_database()
    try:
        app = _app(url)
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
        deferred_per_s = await _defer(url, count, start, due_rate)
        owner = await asyncpg.connect(url)
        try:
            await owner.execute("ANALYZE")
            context = mp.get_context("spawn")
            go, stop = context.Event(), context.Event()
            readies = [context.Event() for _ in range(PROCESSES)]
            processes = [context.Process(target=_worker, args=(url, (r, go, stop))) for r in readies]
            for process in processes:
                process.start()
            try:
                for ready in readies:
                    if not await asyncio.to_thread(ready.wait, 60):
                        raise RuntimeError("a procrastinate worker did not start")
                first_due = await owner.fetchval("SELECT min(scheduled_at) FROM procrastinate_jobs")
                started_at = await owner.fetchval("SELECT clock_timestamp()")
                go.set()
                await asyncio.sleep((first_due - started_at).total_seconds())  # CPU: from the first due
                cpu_before = cpu_jiffies()
                deadline = time.monotonic() + 1200
                while await owner.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE status IN ('todo', 'doing'))"
                ):
                    if time.monotonic() > deadline:
                        raise TimeoutError("procrastinate did not run every job in 20 minutes")
                    await asyncio.sleep(0.2)
                busy = cpu_busy_percent(cpu_before, cpu_jiffies())
            finally:
                stop.set()
                for process in processes:
                    process.join(timeout=30)
                    if process.is_alive():
                        process.kill()
            stats = dict(await owner.fetchrow(STATS))
        finally:
            await owner.close()
    finally:
        await drop_database(url)
    if stats["done"] != count:
        raise AssertionError(f"procrastinate finished {stats['done']} of {count} jobs")
    begin = max(stats["first_due"], started_at)
    return {
        "jobs": count,
        "deferred_per_s": deferred_per_s,
        "done_per_s": rate(count, (stats["last_done"] - begin).total_seconds()),
        "offered_per_s": rate(count, (stats["last_due"] - stats["first_due"]).total_seconds()),
        "lag_ms": [float(stats[f"lag_{p}"]) * 1000 for p in ("p50", "p99", "max")],
        "busy": busy,
    }


@dataclass(frozen=True)
class Result:
    rows: list[Row]
    capacity_per_s: float


async def measure(refuge_count: int) -> Result:
    """procrastinate's figures, for a Refuge run of ``refuge_count`` timers."""

    count = max(200, int(refuge_count * SHARE))
    setup = f"{PROCESSES} processes x concurrency {CONCURRENCY}, poll {POLL_SECONDS:g} s"
    capacity = await _run(count, datetime.now(UTC) - timedelta(hours=1), 1e6)
    rows = [
        Row(
            NAME,
            "procrastinate defer (batch)",
            capacity["deferred_per_s"],
            "jobs/s",
            f"{count:,} jobs, {PER_CALL:,} per call, 1 connection",
        ),
        Row(
            NAME,
            "procrastinate capacity",
            capacity["done_per_s"],
            "jobs/s",
            f"{count:,} due at start ({SHARE:.0%} of the Refuge count); {setup}; "
            f"CPU {capacity['busy']:.0f}% busy",
        ),
    ]
    due_rate = capacity["done_per_s"] / 2
    seconds = max(3.0, PACED_SECONDS * refuge_count / 1_000_000)
    paced_count = max(100, int(due_rate * seconds))
    expected = paced_count / capacity["deferred_per_s"] * 1.25 + LEAD_SECONDS
    paced = await _run(paced_count, datetime.now(UTC) + timedelta(seconds=expected), due_rate)
    rows.append(
        Row(
            NAME,
            f"procrastinate paced at {due_rate:,.0f}/s",
            paced["done_per_s"],
            "jobs/s",
            f"offered {paced['offered_per_s']:,.0f}/s (half its capacity); {setup}; "
            f"CPU {paced['busy']:.0f}% busy",
        )
    )
    for label, value in zip(("p50", "p99", "max"), paced["lag_ms"], strict=True):
        note = f"started - scheduled_at, all {paced_count:,} jobs" if label == "p50" else ""
        rows.append(Row(NAME, f"procrastinate paced lag {label}", value, "ms", note))
    return Result(rows, capacity["done_per_s"])
