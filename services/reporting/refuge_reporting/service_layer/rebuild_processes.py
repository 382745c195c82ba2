"""A rebuild spread over worker processes, each projecting its own share of the partitions.

One Python process decodes and maps about 35,000 events/s at best (measured: ~20 µs of its
CPU per event, a quarter of it aiokafka's own record parsing), and, being single-threaded,
leaves a core idle while it waits for PostgreSQL (the machine was 60 % busy; 85-92 % with
two workers, measured with bench/reporting_rebuild.py). So a rebuild starts ``processes`` workers
(spawned, not forked: the service has an event loop and sockets open); each reads a
disjoint share of the topic-partitions (``in_share``) into the same generation and stores
its partitions' offsets with its facts in its own transactions (offsets are per generation,
topic and partition, so the shares never write the same offset row). Each batch is checked
against the rebuild lock this process holds (``held_by`` its backend): were this process to
die, its lock goes and the workers stop at their next batch.

This object stands where a rebuild's ``Projector`` stood: ``progress`` merges the workers'
reports, and ``run`` returns once every share has caught up and every worker has stopped,
after ``on_caught_up`` (the swap). Facts are idempotent and keyed per event or aggregate,
so the order in which shares apply their batches changes no figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from multiprocessing.process import BaseProcess
from typing import Any

from refuge_common.db.pool import create_pool
from refuge_common.messaging.consumer import describe_failure
from refuge_common.messaging.retry import RetryPolicy
from refuge_common.observability.logging import configure_logging, get_logger
from refuge_reporting.adapters.event_source import EventSource, Position, Share
from refuge_reporting.adapters.fact_store import FactStore
from refuge_reporting.adapters.leader_lock import LeadershipLost, held_by
from refuge_reporting.service_layer.progress import Progress
from refuge_reporting.service_layer.projector import Projector
from refuge_reporting.service_layer.worker_metrics import CarriedCounts, totals

log = get_logger(__name__)
REPORT_SECONDS = 0.25
STOP_SECONDS = 60.0  # a worker finishes the batch it is writing, then exits


@dataclass(frozen=True)
class WorkerPlan:
    """What a worker process needs to project its share (sent to it pickled)."""

    dsn: str  # the service's own role: row-level security applies as in the service
    schema: str
    bootstrap_servers: str
    topics: tuple[str, ...]
    batch_size: int
    retry: RetryPolicy
    processes: int
    log_level: str = "INFO"
    log_format: str = "json"


class RebuildWorkerFailed(Exception):
    """A worker process stopped before its share caught up. The message names the share and
    why, and holds no value from an event (a rebuild's status shows it as it is)."""


@dataclass
class _Share:
    index: int
    process: BaseProcess
    pipe: Pipe
    report: dict[str, Any] | None = None
    done: bool = False
    error: str | None = None
    counted: CarriedCounts = field(default_factory=CarriedCounts)

    def exited(self) -> str:
        code = self.process.exitcode
        how = f"exit code {code}"
        if code is not None and code < 0:
            how = f"killed by {signal.Signals(-code).name}"
        return f"share {self.index}: worker process {self.process.pid} exited ({how}) before it caught up"


class ProjectorProcesses:
    def __init__(self, store: FactStore, generation: int, plan: WorkerPlan, *, lock: tuple[int, int]) -> None:
        self.store = store  # this process's: the total, the swap
        self.progress = Progress(generation)
        self._plan = plan
        self._lock = lock  # (role, backend pid) of the rebuild lock held here
        self._stopping = asyncio.Event()
        self._shares: list[_Share] = []

    @property
    def generation(self) -> int:
        return self.progress.generation

    @property
    def processes(self) -> int:
        return self._plan.processes

    def stop(self) -> None:
        self._stopping.set()

    async def run(self, on_caught_up: Callable[[ProjectorProcesses], Awaitable[None]] | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        count = self._plan.processes
        for index in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_work_in_process,
                args=(self._plan, self.generation, (index, count), self._lock, theirs),
                name=f"refuge-reporting-rebuild-g{self.generation}-{index}",
                daemon=True,  # never outlives this process
            )
            process.start()
            theirs.close()
            self._shares.append(_Share(index, process, ours))
        try:
            while not self._stopping.is_set():
                self._collect()
                if self._all_caught_up():
                    self.progress.caught_up_at = self.progress.caught_up_at or datetime.now(UTC)
                    await self._stop_workers()  # their last offsets stored before the swap
                    if on_caught_up is not None:
                        await on_caught_up(self)
                    return
                await asyncio.sleep(0.1)
        finally:
            await self._stop_workers()

    def _collect(self) -> None:
        """Every share's reports drained, merged; then the first failure raised."""

        for share in self._shares:
            # Whether it was alive before its pipe is drained: all a dead one sent is read then
            # (asked after, a worker that reported its failure and exited in between would
            # show as having died without a word).
            dead = not share.process.is_alive()
            with contextlib.suppress(EOFError, OSError):
                while share.pipe.poll():
                    kind, body = share.pipe.recv()
                    if kind == "failed":
                        share.error = str(body)
                    else:
                        share.report = body
                        share.done = kind == "done"
                        share.counted.add(body["metrics"])
            if dead and not share.done and share.error is None:
                share.error = share.exited()
        self._merge()
        for share in self._shares:
            if share.error is not None:
                raise RebuildWorkerFailed(share.error)

    def _merge(self) -> None:
        reports = [share.report for share in self._shares if share.report is not None]
        progress = self.progress
        # Each partition's newest offset, whichever share reports it: a worker starts from every
        # partition's stored offset, so its reports carry the others' as they stood then (in
        # report order, such a stale one hid its owner's: fewer events done than the total).
        progress.positions = _newest(r["positions"] for r in reports)
        progress.ends = _newest(r["ends"] for r in reports)
        progress.events_applied = sum(r["events_applied"] for r in reports)
        progress.dead_lettered = sum(r["dead_lettered"] for r in reports)
        # Summed over the processes: process-seconds, not wall-clock seconds.
        progress.seconds = {k: sum(r["seconds"].get(k, 0.0) for r in reports) for k in progress.seconds}
        # perf_counter is CLOCK_MONOTONIC on Linux: one clock for every process here.
        firsts = [r["first_batch"] for r in reports if r["first_batch"] is not None]
        lasts = [r["last_batch"] for r in reports if r["last_batch"] is not None]
        progress._first_batch = min(firsts) if firsts else None
        progress._last_batch = max(lasts) if lasts else None

    def _all_caught_up(self) -> bool:
        reports = [share.report for share in self._shares]
        if any(r is None for r in reports):
            return False
        # A share that was given no partition (more processes than partitions) has nothing
        # to catch up; at least one share must have read something to its end.
        return any(r["caught_up"] for r in reports if r) and all(
            r["caught_up"] or r["partitions"] == 0 for r in reports if r
        )

    async def _stop_workers(self) -> None:
        if not self._shares:
            return  # stopped already: the progress merged last stays
        for share in self._shares:
            with contextlib.suppress(OSError, ValueError):
                share.pipe.send("stop")
        for _ in range(int(STOP_SECONDS / 0.05)):
            alive = any(s.process.is_alive() for s in self._shares)  # asked first: see _collect
            with contextlib.suppress(RebuildWorkerFailed):
                self._collect()  # drained while they stop (a full pipe would block them); their final reports
            if not alive:
                break
            await asyncio.sleep(0.05)
        for share in self._shares:
            if share.process.is_alive():
                share.process.terminate()
            share.process.join(timeout=5)  # reaped: its CPU counts as this process's children's
            share.pipe.close()
        self._shares = []


def _newest(reported: Iterable[dict[Position, Any]]) -> dict[Position, Any]:
    """Each partition's highest value across the reports (they only grow; None, unknown, yields)."""

    newest: dict[Position, Any] = {}
    for values in reported:
        for position, value in values.items():
            known = newest.get(position)
            if known is None or (value is not None and value > known):
                newest[position] = value
    return newest


# -- in the worker process ----------------------------------------------------------------


def _work_in_process(
    plan: WorkerPlan, generation: int, share: Share, lock: tuple[int, int], pipe: Pipe
) -> None:
    configure_logging("reporting", plan.log_level, plan.log_format)
    try:
        asyncio.run(_work(plan, generation, share, lock, pipe))
    except LeadershipLost as lost:
        pipe.send(("failed", f"share {share[0]}: {lost}"))
    except Exception as error:  # reported to the parent, which fails the rebuild
        # Described without the values a database or validation message may quote.
        pipe.send(("failed", f"share {share[0]}: {describe_failure(error)}"))
        raise
    finally:
        pipe.close()


async def _work(plan: WorkerPlan, generation: int, share: Share, lock: tuple[int, int], pipe: Pipe) -> None:
    role, pid = lock

    async def lock_held(connection: Any) -> None:
        await held_by(connection, role, pid)

    pool = await create_pool(plan.dsn, size=2, schema=plan.schema)
    source = EventSource(
        plan.bootstrap_servers, plan.topics, f"refuge-reporting-rebuild-g{generation}-{share[0]}", share=share
    )
    projector = Projector(
        FactStore(pool),
        source,
        generation,
        producer=None,  # a rebuild does not dead-letter again what the live projector did
        batch_size=plan.batch_size,
        retry=plan.retry,
        guards=(lock_held,),
    )
    caught_up = False

    def report(kind: str = "progress") -> None:
        progress = projector.progress
        pipe.send(
            (
                kind,
                {
                    "positions": dict(progress.positions),
                    "ends": dict(progress.ends),
                    "events_applied": progress.events_applied,
                    "dead_lettered": progress.dead_lettered,
                    "seconds": dict(progress.seconds),
                    "first_batch": progress._first_batch,
                    "last_batch": progress._last_batch,
                    "caught_up": caught_up,
                    "partitions": source.assigned,
                    "metrics": totals(),  # this process's counters, for the service's /metrics
                },
            )
        )

    async def on_caught_up(_projector: Projector) -> None:
        nonlocal caught_up
        caught_up = True
        report()

    async def follow_parent() -> None:
        while True:
            try:
                if pipe.poll():
                    pipe.recv()  # "stop": the only message sent here
                    projector.stop()
                    return
            except (EOFError, OSError):
                projector.stop()  # the parent is gone
                return
            report()
            await asyncio.sleep(REPORT_SECONDS)

    following = asyncio.create_task(follow_parent())
    try:
        await projector.run(on_caught_up=on_caught_up)
        report("done")
    finally:
        following.cancel()
        await pool.close()
