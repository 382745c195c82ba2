"""The live projector, and rebuilds that replace its generation without downtime.

The live projector folds new events into the current generation. A rebuild opens a new
generation and projects every topic into it from offset 0, beside the live one, while the
current generation keeps answering queries. Once the rebuild has read every partition to
its end, one transaction makes its generation current; both projectors stop, and the live
loop starts again on the new generation from the offsets the rebuild stored with its facts.
The retired generation's partitions are then dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from refuge_common.messaging.consumer import describe_failure
from refuge_common.messaging.producer import EventProducer
from refuge_common.messaging.retry import RetryPolicy
from refuge_common.observability.logging import get_logger
from refuge_reporting.adapters.event_source import EventSource
from refuge_reporting.adapters.fact_store import FactStore
from refuge_reporting.service_layer.projector import Projector

log = get_logger(__name__)


DROP_ATTEMPTS = 600  # every half second: five minutes, then at the next restart


class RebuildRunning(Exception):
    """A rebuild is already under way; one at a time."""


@dataclass
class Rebuild:
    projector: Projector
    task: asyncio.Task[None] | None = None
    state: str = "building"  # building, swapped, failed
    error: str | None = None
    finished_at: datetime | None = None

    def status(self) -> dict[str, Any]:
        progress = self.projector.progress
        return {
            "generation": progress.generation,
            "state": self.state,
            "events_done": progress.events_done,
            "events_total": progress.events_total,
            "events_applied": progress.events_applied,
            "events_per_second": progress.rate,
            "started_at": progress.started_at,
            "caught_up_at": progress.caught_up_at,
            "finished_at": self.finished_at,
            "error": self.error,
        }


class Projections:
    def __init__(
        self,
        store: Callable[[], FactStore],
        source: Callable[[str], EventSource],
        producer: EventProducer,
        *,
        batch_size: int,
        retry: RetryPolicy,
    ) -> None:
        self._store = store
        self._source = source
        self._producer = producer
        self._batch_size = batch_size
        self._retry = retry
        self.live: Projector | None = None
        self.rebuild: Rebuild | None = None
        self._dropping: asyncio.Task[None] | None = None

    def _projector(self, generation: int, *, producer: EventProducer | None, role: str) -> Projector:
        return Projector(
            self._store(),
            self._source(f"refuge-reporting-{role}-g{generation}"),
            generation,
            producer=producer,
            batch_size=self._batch_size,
            retry=self._retry,
        )

    async def run_live(self) -> None:
        """The live loop (a background task): project into whatever generation is current."""

        try:
            while True:
                store = self._store()
                await self._drop_retired(store)
                self.live = self._projector(await store.current(), producer=self._producer, role="live")
                await self.live.run()
        except asyncio.CancelledError:
            await self.stop()  # the service is stopping: so does a rebuild under way
            raise

    async def _drop_retired(self, store: FactStore) -> None:
        """Drop every generation neither current nor being built, in the background: the drop
        gives way to queries (a short lock timeout) and is tried again until it passes."""

        building = (
            self.rebuild.projector.generation if self.rebuild and self.rebuild.state == "building" else None
        )
        retired = [
            g.number for g in await store.generations() if g.state != "current" and g.number != building
        ]
        if retired and (self._dropping is None or self._dropping.done()):
            self._dropping = asyncio.create_task(self._drop(store, retired), name="drop-retired-generations")

    async def _drop(self, store: FactStore, generations: list[int]) -> None:
        for generation in generations:
            for _attempt in range(DROP_ATTEMPTS):
                if await store.drop(generation):
                    break
                await asyncio.sleep(0.5)
            else:
                log.warning("retired_generation_not_dropped", generation=generation)

    async def start_rebuild(self) -> Rebuild:
        if self.rebuild is not None and self.rebuild.state == "building":
            raise RebuildRunning(f"generation {self.rebuild.projector.generation} is being built")
        store = self._store()
        generation = await store.open_generation()
        rebuild = Rebuild(self._projector(generation, producer=None, role="rebuild"))
        self.rebuild = rebuild
        rebuild.task = asyncio.create_task(self._run_rebuild(rebuild), name=f"rebuild-g{generation}")
        log.info("rebuild_started", generation=generation)
        return rebuild

    async def _run_rebuild(self, rebuild: Rebuild) -> None:
        async def swap(projector: Projector) -> None:
            previous = await projector.store.swap(projector.generation)
            rebuild.state = "swapped"
            rebuild.finished_at = datetime.now(UTC)
            log.info("rebuild_swapped", generation=projector.generation, previous=previous)
            projector.stop()
            if self.live is not None:
                self.live.stop()  # the live loop restarts on the new generation

        try:
            await rebuild.projector.run(on_caught_up=swap)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            rebuild.state = "failed"
            rebuild.error = describe_failure(error)
            rebuild.finished_at = datetime.now(UTC)
            log.error("rebuild_failed", generation=rebuild.projector.generation, error=rebuild.error)
            with contextlib.suppress(Exception):
                await self._store().drop(rebuild.projector.generation)

    async def stop(self) -> None:
        for task in (self.rebuild.task if self.rebuild else None, self._dropping):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
