"""`refuge reporting rebuild` against a real reporting service on the real broker and database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from ops_kafka import Kafka, refuge

from refuge_common.auth.principal import Principal, Role
from refuge_common.contract.cases import CaseOpened
from refuge_common.contract.envelope import new_event, to_record
from refuge_common.messaging.producer import EventProducer
from refuge_common.service_main import migrate_service
from refuge_devstack.ports import free_port
from refuge_devstack.pytest_plugin import throwaway_database
from refuge_devstack.testing import eventually
from refuge_devstack.tokens import LocalIssuer
from refuge_reporting.bootstrap import build_app
from refuge_reporting.schema import SCHEMA
from refuge_reporting.settings import ReportingSettings

pytestmark = pytest.mark.integration
TENANT = uuid.uuid4()


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with throwaway_database("refuge_ops_reporting") as url:
        yield url


@pytest.fixture(scope="module")
async def reporting_url(kafka: Kafka, database: str, issuer: LocalIssuer) -> AsyncIterator[str]:
    settings = ReportingSettings(
        kafka_bootstrap_servers=kafka.bootstrap_servers, database_url=database, jwks_url=issuer.jwks_url
    )
    await migrate_service(settings, SCHEMA)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())

    async def started() -> bool:
        return bool(server.started)

    await eventually(started, within=60)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


async def test_rebuild_runs_to_the_swap_and_the_figures_stay(
    kafka: Kafka, reporting_url: str, issuer: LocalIssuer
) -> None:
    producer = EventProducer(kafka.bootstrap_servers, "ops-reporting-tests")
    await producer.start()
    office = uuid.uuid4()
    try:
        await producer.send_in_order(
            [
                to_record(
                    new_event(
                        "/refuge/intake",
                        CaseOpened(
                            case_id=uuid.uuid4(),
                            organisation_id=TENANT,
                            office_id=office,
                            case_type="asylum",
                            jurisdiction="FR",
                            channel="phone",
                            opened_at=datetime(2026, 5, 1, tzinfo=UTC),
                        ),
                        TENANT,
                    )
                )
                for _ in range(3)
            ]
        )
    finally:
        await producer.stop()
    coordinator = {"Authorization": f"Bearer {issuer.token(Principal('c', TENANT, Role.COORDINATOR))}"}

    async def opened() -> int:
        async with httpx.AsyncClient(base_url=reporting_url) as client:
            body = (await client.get("/figures/cases_opened", headers=coordinator)).json()
        return int(body["rows"][-1]["value"])

    async def three_counted() -> bool:
        return await opened() == 3

    await eventually(three_counted, within=30)
    operator = issuer.token(Principal("op", TENANT, Role.OPERATOR))

    result = await refuge(
        kafka, "reporting", "rebuild", "--url", reporting_url, "--token", operator, "--poll", "0.2"
    )

    assert "rebuilding generation 2" in result.output
    assert "generation 2 swapped in" in result.output
    assert await opened() == 3

    again = await refuge(
        kafka, "reporting", "rebuild", "--url", reporting_url, "--no-wait", "--token", operator
    )
    assert "rebuilding generation 3" in again.output


async def test_rebuild_refuses_a_token_that_is_not_an_operators(
    kafka: Kafka, reporting_url: str, issuer: LocalIssuer
) -> None:
    coordinator = issuer.token(Principal("c", TENANT, Role.COORDINATOR))
    result = await refuge(
        kafka, "reporting", "rebuild", "--url", reporting_url, "--token", coordinator, ok=False
    )
    assert result.exit_code == 1 and "403" in result.output
