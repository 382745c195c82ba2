"""Durable timers: schedule 1,000,000 reminders, then fire them; procrastinate beside.

Refuge. A fresh database, migrated as the service migrates it (keyring, then the
deadlines schema); every query of the service's own role (``refuge_deadlines``: no
owner rights, row-level security on). 1,000 deadlines (20 tenants, 50 offices, one
case each); their timers are ``reminder`` rows whose payloads are real
``ReminderDue`` data (a sample is checked against the model).

- *Scheduling*: the service's own ``deadline_store.add_timers``, 1,000 timers per
  transaction, one connection; timed with the building of the rows. The timers are
  written in random order of due time, as a live service writes them (a deadline's
  reminders, days apart, are scheduled together), so firing reads the heap at
  random, not in the order it was written. Then ``ANALYZE``, what autovacuum (off on
  this server) would do after a million inserts, and two copies of the database (its
  files, ``CREATE DATABASE ... TEMPLATE``) for the capacity runs.
- *Paced*: the timers come due at a steady 20,000/s (the target), from 20 s or so
  after scheduling ends; 2 worker processes, as two replicas of the service. The lag
  of each reminder is ``fired_at - remind_at``, ``fired_at`` being set by the firing
  transaction itself (``clock_timestamp()``, just before its commit); p50/p99/max are
  PostgreSQL's ``percentile_cont`` over every reminder.
- *Capacity*: on the copies, by then every timer is overdue when the workers start (a
  backlog, as after an outage): fired/s is how fast they drain it, with 1 worker
  process, then with 2.

Each worker process runs the service's real ``TimerWorker`` with the production
settings (batch 1,000, poll 1 s, LISTEN wake-up, 2 lanes), as a service replica would.
The machine has 2 cores, shared by the workers, PostgreSQL and whatever else runs:
each row's note gives the machine's CPU busy % from the first due time to the last
firing. Every fired timer
writes its ``reminder.due`` CloudEvent to the outbox in the same transaction: that is
part of the measured cost; publishing it (the relay) is not. Each run checks that
every timer fired and that the outbox holds as many ``reminder.due`` events (with
distinct ids) as there are timers.

procrastinate (``bench/reminders_procrastinate.py``) does the same on the same server:
see that module.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event as EventType
from typing import Any

import asyncpg

from bench import reminders_procrastinate
from bench.common import (
    SERVER_URL,
    Row,
    cpu_busy_percent,
    cpu_jiffies,
    create_database,
    drop_database,
    rate,
)
from refuge_common.contract.deadlines import ReminderDue
from refuge_common.db.migrations import app_dsn, migrate, migrate_keyring
from refuge_common.db.pool import create_pool, set_tenant, with_database
from refuge_deadlines.adapters import deadline_store
from refuge_deadlines.schema import SCHEMA
from refuge_deadlines.settings import DeadlinesSettings

NAME = "reminders"
REMINDERS = 1_000_000
DEADLINES = 1_000
TENANTS = 20
OFFICES = 50
PER_TRANSACTION = 1_000
PACED_RATE = 20_000.0  # due per second in the paced run: the target
PACED_PROCESSES = 2  # as two replicas of the service would run
LEAD_SECONDS = 15.0  # at full scale, the paced window opens this long after scheduling's expected end
PILOT = 10_000
BATCH_SIZE: int = DeadlinesSettings.model_fields["deadlines_timer_batch_size"].default
POLL_SECONDS: float = DeadlinesSettings.model_fields["deadlines_timer_poll_ms"].default / 1000
OFFSETS = ("P7D", "P2D", "P1D", "PT24H", "PT12H", "PT4H", "PT1H")
PURPOSES = ("appeal", "legal_aid_request", "petition_for_review", "motion_to_reopen")
ZONES = ("Europe/Paris", "America/New_York", "Indian/Mayotte", "America/Chicago")


# -- scheduling ---------------------------------------------------------------------


class Schedule:
    """``count`` timers of ``DEADLINES`` deadlines: the ``i``-th due is due at ``start + i / PACED_RATE``."""

    def __init__(self, count: int) -> None:
        self.count = count
        random_ = random.Random(7)
        tenants = [uuid.uuid4() for _ in range(TENANTS)]
        offices = [(uuid.uuid4(), tenants[i % TENANTS], ZONES[i % len(ZONES)]) for i in range(OFFICES)]
        due = datetime.now(UTC) + timedelta(days=30)
        self.deadlines: list[dict[str, Any]] = []
        for i in range(DEADLINES):
            office_id, tenant_id, zone = offices[i % OFFICES]
            self.deadlines.append(
                {
                    "deadline_id": uuid.uuid4(),
                    "tenant_id": tenant_id,
                    "case_id": uuid.uuid4(),
                    "office_id": office_id,
                    "caseworker_id": uuid.uuid4(),
                    "person_id": uuid.uuid4(),
                    "purpose": PURPOSES[i % len(PURPOSES)],
                    "due": due + timedelta(minutes=random_.randrange(60 * 24 * 60)),
                    "timezone": zone,
                }
            )
        # The payload of each deadline's reminders, as the service writes it; reminder_id,
        # remind_at and offset are set per timer.
        self._payloads = [
            deadline_store.as_json(
                ReminderDue(
                    **{k: v for k, v in d.items() if k != "tenant_id"},
                    reminder_id=uuid.uuid4(),
                    remind_at=d["due"],
                    offset="P7D",
                )
            )
            for d in self.deadlines
        ]
        self._order = list(range(count))
        random.Random(11).shuffle(self._order)  # written in random order of due time

    def rows(self, start: datetime, first: int, last: int) -> list[tuple[Any, ...]]:
        """``add_timers`` rows ``first``..``last`` (in writing order)."""

        found = []
        for position in self._order[first:last]:
            deadline = self.deadlines[position % DEADLINES]
            reminder_id = uuid.uuid4()
            at = start + timedelta(seconds=position / PACED_RATE)
            offset = OFFSETS[position % len(OFFSETS)]
            payload = {
                **self._payloads[position % DEADLINES],
                "reminder_id": str(reminder_id),
                "remind_at": _iso(at),
                "offset": offset,
            }
            found.append(
                (reminder_id, deadline["tenant_id"], deadline["deadline_id"], at, offset, "reminder", payload)
            )
        return found


def _iso(instant: datetime) -> str:
    """A UTC instant as pydantic writes it (``Z``, microseconds only when non-zero)."""

    return instant.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _check_payloads(rows: list[tuple[Any, ...]]) -> None:
    """The rows hold what the service's scheduler writes: ``as_json`` of a valid ``ReminderDue``."""

    for row in rows:
        model = ReminderDue.model_validate(row[6])
        assert deadline_store.as_json(model) == row[6], row[6]
        assert (model.reminder_id, model.remind_at, model.offset) == (row[0], row[3], row[4])


async def _seed(connection: asyncpg.Connection, schedule: Schedule) -> None:
    """Offices, cases and deadlines, each tenant's under its own row-level security."""

    by_tenant: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for deadline in schedule.deadlines:
        by_tenant.setdefault(deadline["tenant_id"], []).append(deadline)
    for tenant, own in by_tenant.items():
        async with connection.transaction():
            await set_tenant(connection, tenant)
            await connection.executemany(
                """INSERT INTO offices (office_id, tenant_id, timezone, jurisdiction)
                   VALUES ($1, $2, $3, 'FR')""",
                list({(d["office_id"], tenant, d["timezone"]) for d in own}),
            )
            await connection.executemany(
                """INSERT INTO cases (case_id, tenant_id, office_id, jurisdiction, person_id, caseworker_id)
                   VALUES ($1, $2, $3, 'FR', $4, $5)""",
                [(d["case_id"], tenant, d["office_id"], d["person_id"], d["caseworker_id"]) for d in own],
            )
            await connection.executemany(
                """INSERT INTO deadlines (deadline_id, tenant_id, case_id, office_id, key, purpose, rule,
                                          legal_basis, due, timezone, status, trigger_event_id)
                   VALUES ($1, $2, $3, $4, $5, $6, 'bench.rule', 'CESEDA art. L.614-1', $7, $8,
                           'open', $9)""",
                [
                    (
                        d["deadline_id"],
                        tenant,
                        d["case_id"],
                        d["office_id"],
                        f"bench@{d['deadline_id']}",
                        d["purpose"],
                        d["due"],
                        d["timezone"],
                        str(uuid.uuid4()),
                    )
                    for d in own
                ],
            )


async def scheduled_database(schedule: Schedule) -> tuple[str, float]:
    """A fresh database holding the schedule's timers; (its owner URL, timers written per second).

    They come due at ``PACED_RATE`` from about ``LEAD_SECONDS`` after the expected end of the
    scheduling, estimated from a pilot of ``PILOT`` timers written and rolled back
    (due in 2100: their dead index entries sit past every real one, where no claim reads).
    """

    url = await create_database()
    try:
        await migrate_keyring(url)
        await migrate(url, SCHEMA)
        pool = await create_pool(app_dsn(url, SCHEMA), size=1, schema=SCHEMA.schema)
        try:
            async with pool.acquire() as connection:
                await _seed(connection, schedule)
                pilot = connection.transaction()
                await pilot.start()
                started = time.perf_counter()
                far = datetime(2100, 1, 1, tzinfo=UTC)
                for first in range(0, PILOT, PER_TRANSACTION):
                    await deadline_store.add_timers(
                        connection, schedule.rows(far, first, first + PER_TRANSACTION)
                    )
                expected = schedule.count * (time.perf_counter() - started) / PILOT
                await pilot.rollback()
                lead = 3 + LEAD_SECONDS * schedule.count / REMINDERS  # time for the two copies
                start = datetime.now(UTC) + timedelta(seconds=expected * 1.25 + lead)
                _check_payloads(schedule.rows(start, 0, 100))
                started = time.perf_counter()
                for first in range(0, schedule.count, PER_TRANSACTION):
                    rows = schedule.rows(start, first, min(first + PER_TRANSACTION, schedule.count))
                    async with connection.transaction():
                        await deadline_store.add_timers(connection, rows)
                seconds = time.perf_counter() - started
        finally:
            await pool.close()
        owner = await asyncpg.connect(url)
        try:
            await owner.execute("ANALYZE")
        finally:
            await owner.close()
    except BaseException:
        await drop_database(url)
        raise
    return url, schedule.count / seconds


async def copy_database(url: str) -> str:
    """A byte-for-byte copy (its files, not its rows) of a database this package created."""

    name = f"refuge_bench_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(with_database(SERVER_URL, "postgres"))
    try:
        await connection.execute(
            f'CREATE DATABASE "{name}" TEMPLATE "{url.rsplit("/", 1)[1]}" STRATEGY FILE_COPY'
        )
    finally:
        await connection.close()
    return with_database(SERVER_URL, name)


# -- firing -------------------------------------------------------------------------


def _worker(app_url: str, events: tuple[EventType, EventType, EventType]) -> None:
    """Entry point of a spawned process: one ``TimerWorker``, as the service runs it."""

    asyncio.run(_run_worker(app_url, events))


async def _run_worker(app_url: str, events: tuple[EventType, EventType, EventType]) -> None:
    from refuge_common.observability.logging import configure_logging
    from refuge_deadlines.entrypoints.timer_worker import TimerWorker

    configure_logging("deadlines-bench", "WARNING")
    ready, go, stop = events
    pool = await create_pool(app_url, schema=SCHEMA.schema)
    worker = TimerWorker(lambda: pool, batch_size=BATCH_SIZE, poll_interval=POLL_SECONDS)
    ready.set()
    await asyncio.to_thread(go.wait)
    task = asyncio.create_task(worker.run())
    await asyncio.to_thread(stop.wait)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await pool.close()


PENDING = "SELECT EXISTS (SELECT 1 FROM deadlines.reminders WHERE status = 'pending')"
STATS = """
WITH fired AS (
    SELECT remind_at, fired_at, extract(epoch FROM fired_at - remind_at) AS lag
    FROM deadlines.reminders WHERE status = 'fired'
)
SELECT count(*) AS fired, min(remind_at) AS first_due, max(remind_at) AS last_due,
       max(fired_at) AS last_fired,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS lag_p50,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS lag_p99,
       max(lag) AS lag_max,
       (SELECT count(*) FROM deadlines.reminders WHERE status <> 'fired') AS unfired,
       (SELECT count(*) FROM deadlines.outbox WHERE event_type = 'org.refuge.reminder.due.v1') AS events,
       (SELECT count(DISTINCT event_id) FROM deadlines.outbox) AS event_ids
FROM fired
"""


async def fire(url: str, workers: int) -> dict[str, Any]:
    """Start ``workers`` processes and wait until no timer is pending; the firing's figures."""

    context = mp.get_context("spawn")
    go, stop = context.Event(), context.Event()
    readies = [context.Event() for _ in range(workers)]
    app_url = app_dsn(url, SCHEMA)
    processes = [context.Process(target=_worker, args=(app_url, (ready, go, stop))) for ready in readies]
    for process in processes:
        process.start()
    owner = await asyncpg.connect(url)
    try:
        for ready in readies:
            if not await asyncio.to_thread(ready.wait, 60):
                raise RuntimeError("a timer worker did not start")
        first_due = await owner.fetchval("SELECT min(remind_at) FROM deadlines.reminders")
        started_at = await owner.fetchval("SELECT clock_timestamp()")
        go.set()
        await asyncio.sleep((first_due - started_at).total_seconds())  # CPU busy: from the first due
        cpu_before = cpu_jiffies()
        deadline = time.monotonic() + 1200
        while await owner.fetchval(PENDING):
            if time.monotonic() > deadline:
                raise TimeoutError("the timers did not all fire in 20 minutes")
            await asyncio.sleep(0.2)
        busy = cpu_busy_percent(cpu_before, cpu_jiffies())
        stop.set()
        stats = dict(await owner.fetchrow(STATS))
    finally:
        stop.set()
        await owner.close()
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    if not (stats["unfired"] == 0 and stats["events"] == stats["event_ids"] == stats["fired"]):
        raise AssertionError(f"not every timer fired exactly once: {stats}")
    begin = max(stats["first_due"], started_at)  # the workers' start, or the first due time if later
    return {
        "workers": workers,
        "fired": stats["fired"],
        "fired_per_s": rate(stats["fired"], (stats["last_fired"] - begin).total_seconds()),
        "offered_per_s": rate(stats["fired"], (stats["last_due"] - stats["first_due"]).total_seconds()),
        "lag_ms": [float(stats[f"lag_{p}"]) * 1000 for p in ("p50", "p99", "max")],
        "late_start_s": (started_at - stats["first_due"]).total_seconds(),
        "busy": busy,
    }


async def _main(count: int) -> list[Row]:
    rows: list[Row] = []
    facts = f"batch {BATCH_SIZE}, 2 lanes per process"
    url, scheduled_per_s = await scheduled_database(Schedule(count))
    rows.append(
        Row(
            NAME,
            "schedule (add_timers)",
            scheduled_per_s,
            "timers/s",
            f"{count:,} timers, {PER_TRANSACTION:,} per transaction, 1 connection, service role",
        )
    )
    copies: list[str] = []
    try:
        # Two copies for the capacity runs, made while the paced window is still ahead.
        started = time.perf_counter()
        copies += [await copy_database(url), await copy_database(url)]
        print(f"  copied the database twice in {time.perf_counter() - started:.1f} s", flush=True)
        print(f"  paced at {PACED_RATE:,.0f}/s, {PACED_PROCESSES} worker processes ...", flush=True)
        paced = await fire(url, PACED_PROCESSES)
        capacity = {}
        for workers, copy in zip((1, 2), copies, strict=True):
            # By now every timer of the copy is overdue: a backlog.
            print(f"  capacity, {workers} worker process(es) ...", flush=True)
            capacity[workers] = await fire(copy, workers)
    finally:
        for database in [url, *copies]:
            await drop_database(database)

    late = paced["late_start_s"]
    late_note = f"; first due {late:.1f} s before the workers started" if late > 0 else ""
    rows.append(
        Row(
            NAME,
            f"fire, paced at {PACED_RATE:,.0f}/s, {PACED_PROCESSES} processes",
            paced["fired_per_s"],
            "reminders/s",
            f"offered {paced['offered_per_s']:,.0f}/s; {facts}; CPU {paced['busy']:.0f}% busy{late_note}",
        )
    )
    for label, value in zip(("p50", "p99", "max"), paced["lag_ms"], strict=True):
        note = f"fired_at - remind_at, all {paced['fired']:,} reminders" if label == "p50" else ""
        rows.append(Row(NAME, f"paced lag {label}", value, "ms", note))
    for workers, result in capacity.items():
        rows.append(
            Row(
                NAME,
                f"fire, capacity, {workers} process{'es' if workers > 1 else ''}",
                result["fired_per_s"],
                "reminders/s",
                f"{count:,} overdue at start; {facts}; CPU {result['busy']:.0f}% busy",
            )
        )

    # procrastinate, on the same server; its drain rate beside the best of ours.
    print("  procrastinate ...", flush=True)
    theirs = await reminders_procrastinate.measure(count)
    rows += theirs.rows
    best = max(result["fired_per_s"] for result in capacity.values())
    rows.append(
        Row(
            NAME,
            "capacity, Refuge / procrastinate",
            best / theirs.capacity_per_s,
            "x",
            "best Refuge drain rate over procrastinate's",
        )
    )
    return rows


def run(scale: float = 1.0) -> list[Row]:
    return asyncio.run(_main(max(10_000, int(REMINDERS * scale))))
