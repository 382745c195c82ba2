"""A rebuild in worker processes, on the real broker and database: a worker that dies, or the
rebuild lock lost under the workers, fails the rebuild and swaps nothing, while the live
projection goes on serving the current generation; and what the workers consumed shows on
the service's /metrics as an in-process rebuild's would.

To stop a rebuild from catching up (and swapping) before the test has done its damage, the
test holds ``projection_offsets`` in EXCLUSIVE mode: every batch's transaction writes its
offsets there last, so no batch commits until the test lets go (reads still pass, and the
live projector, with nothing new to read, writes nothing meanwhile)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from multiprocessing.process import BaseProcess

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from replicas_support import cases_of, migrated_settings, opened, projections, publish, replica

from refuge_devstack.pytest_plugin import throwaway_database
from refuge_devstack.testing import eventually
from refuge_devstack.tokens import LocalIssuer
from refuge_reporting.adapters.leader_lock import NAMESPACE, REBUILD
from refuge_reporting.service_layer.projector import CONSUMER_NAME
from refuge_reporting.service_layer.rebuild_status import Rebuild
from refuge_reporting.settings import ReportingSettings

pytestmark = pytest.mark.integration
BATCH = 10  # many batches per share: a worker always has a next one


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with throwaway_database("refuge_reporting") as url:
        yield url


@pytest.fixture
async def settings(kafka_bootstrap_servers: str, database: str, issuer: LocalIssuer) -> ReportingSettings:
    return await migrated_settings(
        kafka_bootstrap_servers,
        database,
        issuer.jwks_url,
        reporting_batch_size=BATCH,
        reporting_rebuild_processes=2,
    )


async def published_and_projected(
    app: FastAPI, settings: ReportingSettings, database: str, count: int
) -> uuid.UUID:
    """``count`` new cases of a new organisation, once the live projection has counted them."""

    tenant = uuid.uuid4()
    await publish(settings.kafka_bootstrap_servers, opened(tenant, count))

    async def counted() -> bool:
        live = projections(app).live
        return bool(live and live.progress.caught_up) and await cases_of(database, tenant) == count

    await eventually(counted, within=60)
    return tenant


async def generations(database: str) -> dict[int, str]:
    connection = await asyncpg.connect(database)
    try:
        rows = await connection.fetch("SELECT generation, state FROM reporting.generations")
        return {row["generation"]: row["state"] for row in rows}
    finally:
        await connection.close()


async def current_generation(database: str) -> int:
    return next(g for g, state in (await generations(database)).items() if state == "current")


@contextlib.asynccontextmanager
async def batches_held(database: str) -> AsyncIterator[asyncpg.Connection]:
    """No batch commits while inside (see the module's docstring)."""

    connection = await asyncpg.connect(database)
    try:
        async with connection.transaction():
            await connection.execute("LOCK TABLE reporting.projection_offsets IN EXCLUSIVE MODE")
            yield connection
    finally:
        await connection.close()


async def a_batch_waits(connection: asyncpg.Connection) -> bool:
    """A rebuild's batch is under way, held by ``batches_held`` (or behind one that is)."""

    # pg_stat_activity is read once per transaction unless its snapshot is cleared.
    await connection.execute("SELECT pg_stat_clear_snapshot()")
    waiting = await connection.fetchval(
        """SELECT count(*) FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'"""
    )
    return bool(waiting)


def workers_of(rebuild: Rebuild) -> list[BaseProcess]:
    prefix = f"refuge-reporting-rebuild-g{rebuild.projector.generation}-"
    return sorted(
        (p for p in multiprocessing.active_children() if p.name.startswith(prefix)), key=lambda p: p.name
    )


async def failed_without_a_swap(app: FastAPI, database: str, rebuild: Rebuild, current: int) -> None:
    async def failed() -> bool:
        return rebuild.state == "failed"

    await eventually(failed, within=120)
    assert not workers_of(rebuild)  # every worker stopped and reaped

    async def dropped() -> bool:
        connection = await asyncpg.connect(database)
        try:
            left = await connection.fetchval(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'reporting' AND tablename LIKE $1",
                f"%\\_g{rebuild.projector.generation}",
            )
        finally:
            await connection.close()
        return int(left) == 0

    await eventually(dropped, within=60)
    states = await generations(database)
    assert states[current] == "current" and states[rebuild.projector.generation] == "retired"
    live = projections(app).live
    assert live is not None and live.generation == current


async def test_a_worker_that_dies_fails_the_rebuild_and_the_live_generation_serves_on(
    settings: ReportingSettings, database: str
) -> None:
    async with replica(settings) as app:
        tenant = await published_and_projected(app, settings, database, 200)
        current = await current_generation(database)
        async with batches_held(database) as held:
            rebuild = await projections(app).start_rebuild()

            async def spawned() -> list[BaseProcess]:
                found = workers_of(rebuild)
                return found if len(found) == 2 else []

            first, _second = await eventually(spawned)
            await eventually(lambda: a_batch_waits(held), within=60)
            assert first.pid is not None
            os.kill(first.pid, signal.SIGKILL)  # in the middle of a rebuild that cannot have caught up

            async def dead() -> bool:
                return not first.is_alive()

            await eventually(dead)
        await failed_without_a_swap(app, database, rebuild, current)
        assert (
            rebuild.error
            == f"share 0: worker process {first.pid} exited (killed by SIGKILL) before it caught up"
        )
        assert await cases_of(database, tenant) == 200
        # The live projection goes on in the current generation.
        more = await published_and_projected(app, settings, database, 5)
        assert await cases_of(database, more) == 5 and await cases_of(database, tenant) == 200


async def test_the_workers_stop_when_the_rebuild_lock_is_lost(
    settings: ReportingSettings, database: str
) -> None:
    async with replica(settings) as app:
        tenant = await published_and_projected(app, settings, database, 200)
        current = await current_generation(database)
        async with batches_held(database) as held:
            rebuild = await projections(app).start_rebuild()
            await eventually(lambda: a_batch_waits(held), within=60)
            holder = await held.fetchval(
                """SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
                   AND classid::bigint = $1 AND objid::bigint = $2""",
                NAMESPACE,
                REBUILD,
            )
            assert await held.fetchval("SELECT pg_terminate_backend($1)", holder)
        # A batch whose transaction checked the lock before it was lost may commit; the
        # worker's next batch (at most BATCH events per batch, 200 events: there is one)
        # finds the lock gone and the worker stops.
        await failed_without_a_swap(app, database, rebuild, current)
        assert rebuild.error is not None
        assert rebuild.error.startswith("share ")  # a worker's, not the swap's
        assert rebuild.error.endswith(f"advisory lock {REBUILD} no longer held by backend {holder}")
        assert await cases_of(database, tenant) == 200


def consumed(text: str) -> dict[tuple[str, str, str], float]:
    """The service's ``refuge_messages_consumed_total`` of the projector, by topic, type, outcome."""

    return {
        (s.labels["topic"], s.labels["event_type"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "refuge_messages_consumed_total" and s.labels["consumer"] == CONSUMER_NAME
    }


async def rebuilt_consumption(app: FastAPI) -> dict[tuple[str, str, str], float]:
    """What grew on the service's /metrics while a rebuild ran (nothing else consumed: the
    live projection had nothing new), checked against the rebuild's own count of records."""

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as client:
        before = consumed((await client.get("/metrics")).text)
        rebuild = await projections(app).start_rebuild()

        async def swapped() -> bool:
            assert rebuild.state != "failed", rebuild.error
            return rebuild.state == "swapped"

        await eventually(swapped, within=120)
        after = consumed((await client.get("/metrics")).text)
    grown = {labels: value - before.get(labels, 0.0) for labels, value in after.items()}
    grown = {labels: value for labels, value in grown.items() if value}
    # Every record read is applied, ignored (a type this build does not know) or rejected
    # (a rebuild counts no dead letter: it sends none).
    progress = rebuild.projector.progress
    assert sum(grown.values()) + progress.dead_lettered == progress.events_applied > 0
    return grown


async def test_a_rebuild_in_workers_shows_its_consumption_as_one_in_process(
    settings: ReportingSettings, database: str
) -> None:
    async with replica(settings.model_copy(update={"reporting_rebuild_processes": 0})) as app:
        await published_and_projected(app, settings, database, 30)
        in_process = await rebuilt_consumption(app)
    async with replica(settings) as app:

        async def caught_up() -> bool:
            live = projections(app).live
            return bool(live and live.progress.caught_up)

        await eventually(caught_up, within=60)
        in_workers = await rebuilt_consumption(app)
    assert in_workers == in_process
    assert sum(v for (_t, _e, outcome), v in in_process.items() if outcome == "applied") >= 30
