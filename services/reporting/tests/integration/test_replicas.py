"""Two reporting replicas on one database and broker: one projects, the other stands by and
takes over when the first stops; figures stay exact and nothing is applied twice."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from replicas_support import cases_of, migrated_settings, opened, projections, publish, replica

from refuge_common.auth.principal import Principal, Role
from refuge_devstack.pytest_plugin import throwaway_database
from refuge_devstack.testing import eventually
from refuge_devstack.tokens import LocalIssuer
from refuge_reporting.adapters.fact_store import FactStore
from refuge_reporting.adapters.leader_lock import REBUILD, AdvisoryLocks, LeadershipLost
from refuge_reporting.settings import ReportingSettings

pytestmark = pytest.mark.integration


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
        reporting_batch_size=100,
        reporting_standby_seconds=0.2,
    )


async def caught_up(app: FastAPI) -> bool:
    live = projections(app).live
    return bool(live and live.progress.caught_up)


async def test_one_replica_projects_the_other_takes_over_when_it_stops(
    settings: ReportingSettings, database: str
) -> None:
    tenant = uuid.uuid4()
    first, more = opened(tenant, 300), opened(tenant, 200)
    async with contextlib.AsyncExitStack() as b_lifetime:
        async with contextlib.AsyncExitStack() as a_lifetime:
            a_app = await a_lifetime.enter_async_context(replica(settings))

            async def a_leads() -> bool:
                return projections(a_app).leading and projections(a_app).live is not None

            await eventually(a_leads)
            b_app = await b_lifetime.enter_async_context(replica(settings))

            async def b_stands_by() -> bool:
                return projections(b_app).standing_by

            await eventually(b_stands_by)
            await publish(settings.kafka_bootstrap_servers, first + first)  # each event twice

            async def a_counted_the_first() -> bool:
                return await cases_of(database, tenant) == len(first) and await caught_up(a_app)

            await eventually(a_counted_the_first, within=60)
            assert projections(b_app).live is None and not projections(b_app).leading
        # A has stopped (service shut down: its pool closed, its lock released).
        await publish(settings.kafka_bootstrap_servers, more + first)  # new events, old ones again

        async def b_counted_everything() -> bool:
            return (
                projections(b_app).leading
                and await caught_up(b_app)
                and await cases_of(database, tenant) == len(first) + len(more)
            )

        await eventually(b_counted_everything, within=60)
        live = projections(b_app).live
        assert live is not None
        # B went on from A's stored offsets: it read only what was published after A stopped.
        assert live.progress.events_applied == len(more) + len(first)


async def test_a_replica_that_lost_its_lock_writes_nothing_more(settings: ReportingSettings) -> None:
    pool = await asyncpg.create_pool(
        settings.database_url, min_size=1, max_size=3, server_settings={"search_path": "reporting, public"}
    )
    assert pool is not None
    try:
        locks, store = AdvisoryLocks(pool), FactStore(pool)
        lease = await locks.try_acquire(REBUILD)
        assert lease is not None
        assert await locks.try_acquire(REBUILD) is None  # held: no one else gets it
        generation = await store.current()
        before = await store.offsets(generation)
        await pool.execute("SELECT pg_terminate_backend($1)", lease.pid)  # its connection is lost
        with pytest.raises(LeadershipLost):
            await store.apply(generation, {}, {("reporting.lost", 0): 7}, {}, guards=(lease.check,))
        assert await store.offsets(generation) == before  # the transaction wrote nothing
        await locks.release(lease)
        taken = await locks.try_acquire(REBUILD)  # released by PostgreSQL: free again
        assert taken is not None
        await locks.release(taken)
    finally:
        await pool.close()


async def test_a_rebuild_runs_on_one_replica_at_a_time(
    settings: ReportingSettings, issuer: LocalIssuer
) -> None:
    async with replica(settings) as app:
        locks = AdvisoryLocks(app.state.runtime.pool)
        elsewhere = await locks.try_acquire(REBUILD)  # another replica's rebuild, under way
        assert elsewhere is not None
        operator = {"Authorization": f"Bearer {issuer.token(Principal('ops', uuid.uuid4(), Role.OPERATOR))}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as client:
            refused = await client.post("/operator/rebuild", headers=operator)
            assert refused.status_code == 409 and "another replica" in refused.text
            await locks.release(elsewhere)
            started = await client.post("/operator/rebuild", headers=operator)
            assert started.status_code == 202, started.text


@pytest.mark.parametrize("processes", [0, 2], ids=["in-process", "worker-processes"])
async def test_a_rebuild_on_the_standby_moves_the_leader_to_the_new_generation(
    settings: ReportingSettings, database: str, issuer: LocalIssuer, processes: int
) -> None:
    settings = settings.model_copy(update={"reporting_rebuild_processes": processes})
    tenant = uuid.uuid4()
    first, more = opened(tenant, 120), opened(tenant, 80)
    async with contextlib.AsyncExitStack() as lifetimes:
        a_app = await lifetimes.enter_async_context(replica(settings))

        async def a_leads() -> bool:
            return projections(a_app).leading and projections(a_app).live is not None

        await eventually(a_leads)
        b_app = await lifetimes.enter_async_context(replica(settings))

        async def b_stands_by() -> bool:
            return projections(b_app).standing_by

        await eventually(b_stands_by)
        await publish(settings.kafka_bootstrap_servers, first)

        async def a_counted_the_first() -> bool:
            return await cases_of(database, tenant) == len(first) and await caught_up(a_app)

        await eventually(a_counted_the_first, within=60)
        a_live = projections(a_app).live
        assert a_live is not None
        old = a_live.generation

        operator = {"Authorization": f"Bearer {issuer.token(Principal('ops', tenant, Role.OPERATOR))}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=b_app), base_url="http://b") as client:
            started = await client.post("/operator/rebuild", headers=operator)
            assert started.status_code == 202, started.text

            async def swapped() -> bool:
                status = (await client.get("/operator/rebuild", headers=operator)).json()
                assert status["state"] != "failed", status
                return bool(status["state"] == "swapped")

            await eventually(swapped, within=60)
            own = (await client.get("/operator/rebuild", headers=operator)).json()
        new = started.json()["generation"]
        # Behind a load balancer the progress is asked of any replica: A, which is not
        # rebuilding, answers from the database with the same generation and events.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=a_app), base_url="http://a") as client:
            elsewhere = (await client.get("/operator/rebuild", headers=operator)).json()
        assert (own["replica"], elsewhere["replica"], own["processes"]) == ("this", "another", processes)
        assert (elsewhere["generation"], elsewhere["state"]) == (new, "swapped")
        assert elsewhere["events_total"] == own["events_total"] >= len(first)
        assert elsewhere["events_done"] >= len(first)
        assert await cases_of(database, tenant) == len(first)  # the rebuilt generation, same figure

        await publish(settings.kafka_bootstrap_servers, more + first)

        async def a_moved_on() -> bool:
            live = projections(a_app).live
            return (
                live is not None
                and live.generation == new
                and await caught_up(a_app)
                and await cases_of(database, tenant) == len(first) + len(more)
            )

        await eventually(a_moved_on, within=60)
        assert projections(b_app).live is None  # B never projected live

        async def old_generation_dropped() -> bool:
            connection = await asyncpg.connect(database)
            try:
                left = await connection.fetchval(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = 'reporting' AND tablename LIKE $1",
                    f"%\\_g{old}",
                )
            finally:
                await connection.close()
            return int(left) == 0

        await eventually(old_generation_dropped, within=60)
