"""The live projector, and rebuilds that replace its generation without downtime.

The live projector folds new events into the current generation. A rebuild opens a new
generation and projects every topic into it from offset 0, beside the live one, while the
current generation keeps answering queries. Once the rebuild has read every partition to
its end, one transaction makes its generation current; both projectors stop, and the live
loop starts again on the new generation from the offsets the rebuild stored with its facts.
The retired generation's partitions are then dropped, one per transaction.

With several replicas, one leads the live projection and one at most rebuilds (PostgreSQL
advisory locks held for as long as they lead, checked again in every batch's transaction);
a live projector whose generation was swapped out by another replica's rebuild notices at
its next batch and moves to the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from refuge_common.messaging.consumer import describe_failure
from refuge_common.messaging.producer import EventProducer
from refuge_common.messaging.retry import RetryPolicy
from refuge_common.observability.logging import get_logger
from refuge_reporting.adapters.event_source import EventSource
from refuge_reporting.adapters.fact_store import FactStore, GenerationNotCurrent, Guard, only_while_current
from refuge_reporting.adapters.leader_lock import LIVE, REBUILD, AdvisoryLocks, LeadershipLost, Lease
from refuge_reporting.service_layer.projector import Projector
from refuge_reporting.service_layer.rebuild_processes import (
    ProjectorProcesses,
    RebuildWorkerFailed,
    WorkerPlan,
)
from refuge_reporting.service_layer.rebuild_status import Rebuild, status_from_database

log = get_logger(__name__)


DROP_ATTEMPTS = 600  # every half second: five minutes, then at the next restart


class RebuildRunning(Exception):
    """A rebuild is already under way; one at a time."""


class Projections:
    """This replica's projectors. Of all replicas, one leads the live projection and one at
    most rebuilds (advisory locks, adapters/leader_lock.py); the others stand by and try
    again every ``standby_seconds``."""

    def __init__(
        self,
        store: Callable[[], FactStore],
        source: Callable[[str], EventSource],
        producer: EventProducer,
        *,
        locks: Callable[[], AdvisoryLocks],
        batch_size: int,
        retry: RetryPolicy,
        standby_seconds: float,
        workers: WorkerPlan | None = None,
    ) -> None:
        self._store = store
        self._source = source
        self._producer = producer
        self._locks = locks
        self._batch_size = batch_size
        self._retry = retry
        self._standby_seconds = standby_seconds
        self._workers = workers  # a rebuild in worker processes; None: in this one
        self.live: Projector | None = None
        self.leading = False
        self.standing_by = False  # another replica leads: this one tries again now and then
        self.rebuild: Rebuild | None = None
        self._dropping: asyncio.Task[None] | None = None

    def _projector(
        self, generation: int, *, producer: EventProducer | None, role: str, guards: tuple[Guard, ...]
    ) -> Projector:
        return Projector(
            self._store(),
            self._source(f"refuge-reporting-{role}-g{generation}"),
            generation,
            producer=producer,
            batch_size=self._batch_size,
            retry=self._retry,
            guards=guards,
        )

    async def run_live(self) -> None:
        """The live loop (a background task): once this replica leads, project into whatever
        generation is current; when it no longer leads, stand by again."""

        try:
            while True:
                lease = await self._lead()
                try:
                    await self._project_live(lease)
                except LeadershipLost as lost:
                    log.warning("projection_leadership_lost", reason=str(lost))
                finally:
                    self.leading, self.live = False, None
                    await self._locks().release(lease)
        except asyncio.CancelledError:
            await self.stop()  # the service is stopping: so does a rebuild under way
            raise

    async def _lead(self) -> Lease:
        while True:
            lease = await self._locks().try_acquire(LIVE)
            if lease is not None:
                self.leading, self.standing_by = True, False
                log.info("projection_leading", backend=lease.pid)
                return lease
            self.standing_by = True
            await asyncio.sleep(self._standby_seconds)

    async def _project_live(self, lease: Lease) -> None:
        while True:
            store = self._store()
            await self._drop_retired(store)
            generation = await store.current()
            guards = (lease.check, only_while_current(generation))
            self.live = self._projector(generation, producer=self._producer, role="live", guards=guards)
            # Stops when a rebuild here swaps; a swap by another replica's rebuild shows at
            # the next batch (GenerationNotCurrent): either way, go on with the new current one.
            with contextlib.suppress(GenerationNotCurrent):
                await self.live.run()

    async def _drop_retired(self, store: FactStore) -> None:
        """Drop every generation neither current nor being built, in the background: the drop
        gives way to queries (a short lock timeout) and is tried again until it passes. A
        generation in state ``building`` is left alone while any replica holds the rebuild
        lock: it may be that replica's."""

        building = (
            self.rebuild.projector.generation if self.rebuild and self.rebuild.state == "building" else None
        )
        generations = await store.generations()
        # Listed first, then the lock: a rebuild takes it before it opens its generation, so
        # one listed here as building and not ours is an orphan unless the lock is held now.
        orphans = building is not None or not await self._locks().held(REBUILD)
        retired = [
            g.number
            for g in generations
            if g.state == "retired" or (g.state == "building" and g.number != building and orphans)
        ]
        if retired and (self._dropping is None or self._dropping.done()):
            self._dropping = asyncio.create_task(self._drop(store, retired), name="drop-retired-generations")

    async def _drop(self, store: FactStore, generations: list[int]) -> None:
        for generation in generations:
            for _attempt in range(DROP_ATTEMPTS):
                try:
                    if await store.drop(generation):
                        break
                    continue  # one partition fewer: the next at once
                except asyncpg.LockNotAvailableError:
                    await asyncio.sleep(0.5)  # queries held the table: give way
                except asyncpg.PostgresError as error:
                    log.warning("retired_generation_not_dropped", generation=generation, error=str(error))
                    return  # tried again when the live loop next starts
            else:
                log.warning("retired_generation_not_dropped", generation=generation)

    async def rebuild_status(self) -> dict[str, Any] | None:
        """The last rebuild's progress: this replica's own, else the newest generation's as
        the database tells it (behind a load balancer, the replica asked is often not the
        one building). None when no rebuild has happened."""

        own = self.rebuild
        if own is not None and own.state == "building":
            return own.status()
        newest = await self._store().newest()
        if own is not None and (newest is None or newest.number <= own.projector.generation):
            return own.status()  # no replica has rebuilt since
        if newest is None or (newest.state != "building" and newest.swapped_at is None):
            return None
        building = newest.state == "building"
        return status_from_database(newest, rebuilding=building and await self._locks().held(REBUILD))

    async def _share_total(self, rebuild: Rebuild) -> None:
        """Write the rebuild's target where other replicas read it, every second."""

        projector = rebuild.projector
        while rebuild.state == "building":
            total = projector.progress.events_total
            if total:
                try:
                    await projector.store.record_total(projector.generation, total)
                except (asyncpg.PostgresError, OSError) as error:  # progress only: never stop a rebuild
                    log.warning("rebuild_total_not_shared", error=str(error))
            await asyncio.sleep(1.0)

    async def start_rebuild(self) -> Rebuild:
        if self.rebuild is not None and self.rebuild.state == "building":
            raise RebuildRunning(f"generation {self.rebuild.projector.generation} is being built")
        lease = await self._locks().try_acquire(REBUILD)
        if lease is None:
            raise RebuildRunning("a rebuild is under way on another replica")
        try:
            store = self._store()
            generation = await store.open_generation()
        except BaseException:
            await self._locks().release(lease)
            raise
        projector: Projector | ProjectorProcesses
        if self._workers is not None:
            projector = ProjectorProcesses(store, generation, self._workers, lock=(lease.role, lease.pid))
        else:
            projector = self._projector(generation, producer=None, role="rebuild", guards=(lease.check,))
        rebuild = Rebuild(projector)
        self.rebuild = rebuild
        rebuild.task = asyncio.create_task(self._run_rebuild(rebuild, lease), name=f"rebuild-g{generation}")
        log.info("rebuild_started", generation=generation)
        return rebuild

    async def _run_rebuild(self, rebuild: Rebuild, lease: Lease) -> None:
        async def swap(projector: Projector | ProjectorProcesses) -> None:
            # The final target, for the other replicas' answers (a short rebuild may end
            # before ``_share_total`` first writes it).
            await projector.store.record_total(projector.generation, projector.progress.events_total)
            previous = await projector.store.swap(projector.generation, guards=(lease.check,))
            rebuild.state = "swapped"
            rebuild.finished_at = datetime.now(UTC)
            log.info("rebuild_swapped", generation=projector.generation, previous=previous)
            projector.stop()
            if self.live is not None:
                self.live.stop()  # the live loop restarts on the new generation
            elif not self.leading:
                # The leader is another replica: it moves to the new generation at its next
                # batch; the retired one is dropped from here, now.
                await self._drop_retired(projector.store)

        sharing = asyncio.create_task(self._share_total(rebuild), name="rebuild-total")
        try:
            await rebuild.projector.run(on_caught_up=swap)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            rebuild.state = "failed"
            failed = isinstance(error, RebuildWorkerFailed)  # its message names the share and why
            rebuild.error = str(error) if failed else describe_failure(error)
            rebuild.finished_at = datetime.now(UTC)
            log.error("rebuild_failed", generation=rebuild.projector.generation, error=rebuild.error)
            with contextlib.suppress(Exception):
                await self._drop(self._store(), [rebuild.projector.generation])
        finally:
            sharing.cancel()
            await self._locks().release(lease)

    async def stop(self) -> None:
        for task in (self.rebuild.task if self.rebuild else None, self._dropping):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
