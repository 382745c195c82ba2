"""What the replica, rebuild-worker and dead-letter tests share: a reporting replica in this
process, cases of one organisation published through the real producer, the count the current
generation holds for it, and what the dead-letter topic holds."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from refuge_common.contract import topics
from refuge_common.contract.cases import CaseOpened
from refuge_common.contract.envelope import Envelope, to_record
from refuge_common.messaging.deadletter import ORIGIN_CONSUMER, DeadLetter, parse_dead_letter
from refuge_common.messaging.producer import EventProducer
from refuge_common.service_main import migrate_service
from refuge_reporting.bootstrap import build_app
from refuge_reporting.schema import SCHEMA
from refuge_reporting.service_layer.rebuild import Projections
from refuge_reporting.settings import ReportingSettings


async def migrated_settings(
    kafka_bootstrap_servers: str, database: str, jwks_url: str, **options: object
) -> ReportingSettings:
    """Reporting's settings on ``database`` (its schema migrated), with ``options``."""

    found = ReportingSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers, database_url=database, jwks_url=jwks_url, **options
    )
    await migrate_service(found, SCHEMA)
    return found


@contextlib.asynccontextmanager
async def replica(settings: ReportingSettings) -> AsyncIterator[FastAPI]:
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def projections(app: FastAPI) -> Projections:
    found: Projections = app.state.projections
    return found


def opened(tenant: uuid.UUID, count: int) -> list[Envelope]:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    return [
        Envelope(
            "/refuge/tests",
            CaseOpened(
                case_id=uuid.uuid4(),
                organisation_id=tenant,
                office_id=uuid.uuid4(),
                case_type="asylum",
                jurisdiction="FR",
                channel="phone",
                opened_at=at,
            ),
            tenant,
            time=at,
        )
        for _ in range(count)
    ]


async def publish(bootstrap: str, envelopes: list[Envelope]) -> None:
    producer = EventProducer(bootstrap, "reporting-replica-tests")
    await producer.start()
    try:
        await producer.send_in_order([to_record(e) for e in envelopes])
    finally:
        await producer.stop()


async def cases_of(database: str, tenant: uuid.UUID) -> int:
    """Cases of one organisation in the current generation, read as the database owner."""

    connection = await asyncpg.connect(database)
    try:
        return int(
            await connection.fetchval(
                """SELECT count(*) FROM reporting.cases JOIN reporting.generations USING (generation)
                   WHERE tenant_id = $1 AND state = 'current'""",
                tenant,
            )
        )
    finally:
        await connection.close()


async def dead_letters(bootstrap: str) -> list[DeadLetter]:
    """Every dead letter on the broker (a consumer's, not a raw record sent there)."""

    consumer = AIOKafkaConsumer(
        topics.DEADLETTER, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        found: list[DeadLetter] = []
        while batch := await consumer.getmany(timeout_ms=1000):
            for records in batch.values():
                found += [parse_dead_letter(r) for r in records if dict(r.headers).get(ORIGIN_CONSUMER)]
        return found
    finally:
        await consumer.stop()
