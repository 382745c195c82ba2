"""The outbox gauges follow the backlog also while the broker refuses the relay's batches.

They used to be set only when the relay went idle after a successful batch: during an outage,
exactly when an operator needs them, they stayed at their last healthy value.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from prometheus_client import REGISTRY
from refuge_it_support import Kafka, ServiceSchema, case_opened, create_schema, eventually, unique

from refuge_common.contract.envelope import KafkaRecord
from refuge_common.messaging.outbox import add_to_outbox
from refuge_common.messaging.producer import EventProducer
from refuge_common.messaging.relay import OutboxRelay
from refuge_common.observability.metrics import OUTBOX_BACKLOG

pytestmark = pytest.mark.integration


class OutageProducer(EventProducer):
    """A real producer whose broker can be made to refuse every batch."""

    down = True

    async def send_in_order(self, records: Sequence[KafkaRecord]) -> None:
        if self.down:
            raise KafkaConnectionError("broker unreachable (outage)")
        await super().send_in_order(records)


@pytest.fixture
async def schema(database_url: str, tmp_path: Path) -> AsyncIterator[ServiceSchema]:
    created = await create_schema(database_url, tmp_path / "sql", {}, prefix="gauges")
    yield created
    await created.drop()


@pytest.fixture
async def pool(schema: ServiceSchema) -> AsyncIterator[asyncpg.Pool]:
    app_pool = await schema.app_pool(size=4)
    yield app_pool
    await app_pool.close()


def gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


async def test_the_gauges_show_a_backlog_building_during_an_outage_and_draining_after(
    kafka: Kafka, kafka_bootstrap_servers: str, pool: asyncpg.Pool, schema: ServiceSchema
) -> None:
    topic = await kafka.create_topic(unique("it.gauges"), partitions=1)
    producer = OutageProducer(kafka_bootstrap_servers, unique("it-gauges"))
    await producer.start()
    relay = OutboxRelay(pool, producer, schema=schema.name, batch_size=10, poll_interval=0.05)
    OUTBOX_BACKLOG.set(0)
    relay.start()
    try:
        async with pool.acquire() as connection, connection.transaction():
            await add_to_outbox(connection, [case_opened(topic=topic) for _ in range(3)])

        async def backlog_shown() -> bool:
            return (
                gauge("refuge_outbox_backlog") == 3 and (gauge("refuge_outbox_oldest_age_seconds") or 0) > 0
            )

        await eventually(backlog_shown, within=30, what="the backlog during the outage")
        producer.down = False

        async def drained() -> bool:
            return gauge("refuge_outbox_backlog") == 0

        await eventually(drained, within=30, what="the backlog drained")
        assert len(await kafka.read(topic, until=lambda found: len(found) >= 3)) == 3
    finally:
        await relay.stop()
        await producer.stop()
