"""Reporting in-process on the real broker and a fresh database, fed a scripted year
(see reporting_year.py) through the real producer."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from refuge_common.auth.principal import Role
from refuge_common.messaging.producer import EventProducer
from refuge_common.service_main import migrate_service
from refuge_devstack.pytest_plugin import throwaway_database
from refuge_devstack.testing import eventually
from refuge_devstack.tokens import LocalIssuer
from refuge_reporting.bootstrap import build_app
from refuge_reporting.schema import SCHEMA
from refuge_reporting.settings import ReportingSettings

# --import-mode=importlib puts no test directory on sys.path (as in ops/tests/conftest.py).
sys.path.insert(0, str(Path(__file__).parent))

from reporting_year import Org, Reporting, Year, script_year


@pytest.fixture(scope="module")
def year() -> Year:
    return script_year()


@pytest.fixture(scope="module")
def reporting_database() -> Iterator[str]:
    with throwaway_database("refuge_reporting") as url:
        yield url


@pytest.fixture(scope="module")
async def reporting(
    kafka_bootstrap_servers: str, reporting_database: str, issuer: LocalIssuer, year: Year
) -> AsyncIterator[Reporting]:
    settings = ReportingSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=reporting_database,
        jwks_url=issuer.jwks_url,
        reporting_batch_size=500,  # several batches for the year, as in production
    )
    await migrate_service(settings, SCHEMA)
    app = build_app(settings)
    producer = EventProducer(kafka_bootstrap_servers, "reporting-tests")
    await producer.start()
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
                found = Reporting(client, issuer, producer, app)
                await found.publish(year.envelopes)
                await _wait_for_everything(found, year)
                yield found
    finally:
        await producer.stop()


async def _wait_for_everything(reporting: Reporting, year: Year) -> None:
    """Until every organisation's last events of every kind are counted."""

    async def total(org: Org, measure: str) -> int:
        body = await reporting.get(
            f"/figures/{measure}",
            reporting.token(org, Role.COORDINATOR),
            start="2024-01-01T00:00:00Z",
            end="2028-01-01T00:00:00Z",
        )
        return int(body["rows"][-1]["value"])

    async def probe() -> bool:
        for org in (year.a, year.b):
            expected = {
                "cases_opened": len(org.cases),
                "cases_closed": sum(c.closed_at is not None for c in org.cases),
                "contacts": len(org.contacts),
                "deadlines_computed": len(org.deadlines),
                "notifications": len({n for n, _s, _at in org.notifications}),
            }
            for measure, count in expected.items():
                if await total(org, measure) != count:
                    return False
        return True

    await eventually(probe, within=120)
