"""A ServiceRuntime-built HTTP app: liveness, readiness against real dependencies, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from refuge_it_support import ServiceSchema, create_schema, unique

from refuge_common.runtime import ServiceRuntime
from refuge_common.settings import PlatformSettings
from refuge_devstack.broker import TansuBroker
from refuge_devstack.ports import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def schema(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServiceSchema]:
    created = await create_schema(database_url, tmp_path_factory.mktemp("runtime"), {}, prefix="rt")
    yield created
    await created.drop()


def runtime_for(schema: ServiceSchema, bootstrap_servers: str) -> ServiceRuntime:
    settings = PlatformSettings(
        kafka_bootstrap_servers=bootstrap_servers,
        database_url=schema.admin_dsn,
        database_app_password=None,
        database_pool_size=2,
    )
    return ServiceRuntime(name=unique("it-runtime"), settings=settings, schema=schema.spec)


@asynccontextmanager
async def serving(runtime: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running (ASGITransport alone does not run it)."""

    app: FastAPI = runtime.http_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://runtime.test") as client:
            yield client


async def test_health_and_metrics_with_broker_and_database_up(
    schema: ServiceSchema, kafka_bootstrap_servers: str
) -> None:
    async with serving(runtime_for(schema, kafka_bootstrap_servers)) as client:
        live = await client.get("/health/live")
        ready = await client.get("/health/ready")
        metrics = await client.get("/metrics")

    assert (live.status_code, live.json()) == (200, {"status": "live"})
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": True, "broker": True, "workers": True}}
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=")  # Prometheus text format
    families = {family.name: family for family in text_string_to_metric_families(metrics.text)}
    assert {"refuge_http_requests", "refuge_outbox_backlog", "refuge_messages_consumed"} <= families.keys()
    ready_requests = [
        sample
        for sample in families["refuge_http_requests"].samples
        if sample.name == "refuge_http_requests_total" and sample.labels["route"] == "/health/ready"
    ]
    assert ready_requests and ready_requests[0].labels["status"] == "200"


async def test_not_ready_when_the_database_pool_is_closed(
    schema: ServiceSchema, kafka_bootstrap_servers: str
) -> None:
    runtime = runtime_for(schema, kafka_bootstrap_servers)
    async with serving(runtime) as client:
        assert (await client.get("/health/ready")).status_code == 200
        runtime.pool.terminate()  # close() would wait for the relay's LISTEN connection
        ready = await client.get("/health/ready")
        live = await client.get("/health/live")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not_ready",
        "checks": {"database": False, "broker": True, "workers": True},
    }
    assert live.status_code == 200  # the process is alive; only readiness fails


async def test_not_ready_when_the_broker_is_unreachable(schema: ServiceSchema, tmp_path: Path) -> None:
    broker = TansuBroker(port=free_port(), log_path=tmp_path / "tansu.log")
    broker.start()
    try:
        async with serving(runtime_for(schema, broker.bootstrap_servers)) as client:
            assert (await client.get("/health/ready")).status_code == 200
            broker.stop()
            ready = await client.get("/health/ready")
    finally:
        broker.stop()
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not_ready",
        "checks": {"database": True, "broker": False, "workers": True},
    }


async def test_not_ready_when_the_outbox_relay_is_gone(
    schema: ServiceSchema, kafka_bootstrap_servers: str
) -> None:
    runtime = runtime_for(schema, kafka_bootstrap_servers)
    async with serving(runtime) as client:
        assert (await client.get("/health/ready")).status_code == 200
        await runtime.relay.stop()  # events would pile up in the outbox unseen
        ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["workers"] is False


async def test_consumer_groups_join_at_the_same_time(
    schema: ServiceSchema, kafka_bootstrap_servers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consumer's start waits for its group's first assignment (seconds per group): a
    service's groups must join together, not one after another (FastStream's own start)."""

    runtime = runtime_for(schema, kafka_bootstrap_servers)
    for reader in ("first", "second", "third"):
        runtime.subscribe(runtime.consumer(reader), unique(f"it-join-{reader}"))
    steps: list[str] = []
    start = AIOKafkaConsumer.start

    async def noting(consumer: AIOKafkaConsumer) -> None:
        steps.append("began")
        await start(consumer)
        steps.append("joined")

    monkeypatch.setattr(AIOKafkaConsumer, "start", noting)
    async with serving(runtime) as client:
        assert (await client.get("/health/ready")).status_code == 200
    assert steps == ["began"] * 3 + ["joined"] * 3
