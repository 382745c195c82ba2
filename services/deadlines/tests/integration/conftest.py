"""Deadlines in-process on the real broker and database; case facts published to Kafka."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import pytest

from refuge_common.contract.base import EventData
from refuge_common.contract.cases import CaseOpened
from refuge_common.contract.directory import OfficeOpened
from refuge_common.contract.envelope import new_event, to_record
from refuge_common.db.pool import tenant_transaction
from refuge_common.messaging.producer import EventProducer
from refuge_common.service_main import migrate_service
from refuge_deadlines.bootstrap import build_app
from refuge_deadlines.schema import SCHEMA
from refuge_deadlines.settings import DeadlinesSettings
from refuge_devstack.testing import eventually, tenant_events
from refuge_devstack.tokens import LocalIssuer

T = TypeVar("T")


@dataclass
class Deadlines:
    app: Any
    producer: EventProducer
    settings: DeadlinesSettings

    @property
    def pool(self) -> Any:
        return self.app.state.runtime.pool

    async def publish(self, tenant: UUID, *events: EventData) -> list[str]:
        envelopes = [new_event("/refuge/intake", data, tenant) for data in events]
        await self.producer.send_in_order([to_record(e) for e in envelopes])
        return [e.id for e in envelopes]

    async def new_case(
        self,
        *,
        timezone: str = "Europe/Paris",
        jurisdiction: str = "FR",
        tenant: UUID | None = None,
        office: UUID | None = None,
    ) -> tuple[UUID, UUID]:
        """A tenant with one office and one open case: (tenant, case)."""

        tenant, office, case = tenant or uuid.uuid4(), office or uuid.uuid4(), uuid.uuid4()
        await self.publish(
            tenant,
            OfficeOpened(
                office_id=office,
                organisation_id=tenant,
                name="Office",
                kind="drop_in_clinic",
                timezone=timezone,
                jurisdiction=jurisdiction,
            ),
        )
        await self.publish(
            tenant,
            CaseOpened(
                case_id=case,
                organisation_id=tenant,
                office_id=office,
                case_type="removal_appeal",
                jurisdiction=jurisdiction,
                channel="in_person",
                opened_at="2026-01-05T10:00:00+01:00",
                caseworker_id=uuid.uuid4(),
            ),
        )
        return tenant, case

    async def rows(self, tenant: UUID, query: str, *args: Any) -> list[dict[str, Any]]:
        async with tenant_transaction(self.pool, tenant) as connection:
            return [dict(r) for r in await connection.fetch(query, *args)]

    async def events(self, tenant: UUID) -> list[tuple[str, dict[str, Any]]]:
        """(event name, data) of every deadlines event of ``tenant`` so far, in order."""

        return await tenant_events(
            self.settings.kafka_bootstrap_servers, "refuge.deadlines.v1", tenant, idle_ms=700
        )

    async def wait_events(self, tenant: UUID, count: int) -> list[tuple[str, dict[str, Any]]]:
        """At least ``count`` events of ``tenant`` other than reminder.due."""

        async def probe() -> list[tuple[str, dict[str, Any]]] | None:
            events = [e for e in await self.events(tenant) if e[0] != "due"]
            return events if len(events) >= count else None

        return await self.eventually(probe)

    async def eventually(self, probe: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        return await eventually(probe, within=timeout)


@pytest.fixture(scope="module")
async def deadlines(
    kafka_bootstrap_servers: str, database_url: str, issuer: LocalIssuer, master_key: str
) -> AsyncIterator[Deadlines]:
    settings = DeadlinesSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=database_url,
        outbox_poll_interval_ms=100,
        deadlines_timer_poll_ms=100,
        consumer_backoff_initial_ms=20,
        consumer_max_attempts=2,
        consumer_session_timeout_ms=3000,
        jwks_url=issuer.jwks_url,
        deadlines_feed_secret="feed-secret-for-tests",
        REFUGE_MASTER_KEY=master_key,
    )
    await migrate_service(settings, SCHEMA)
    app = build_app(settings)
    producer = EventProducer(kafka_bootstrap_servers, "deadlines-tests")
    await producer.start()
    try:
        async with app.router.lifespan_context(app):
            yield Deadlines(app, producer, settings)
    finally:
        await producer.stop()
