"""The projector's event source picks up a topic created after it started."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer

from refuge_devstack.testing import eventually
from refuge_reporting.adapters.event_source import EventSource

pytestmark = pytest.mark.integration


async def test_a_topic_created_later_is_read_from_its_start(kafka_bootstrap_servers: str) -> None:
    topic = f"reporting.later.{uuid.uuid4().hex[:8]}"
    source = EventSource(kafka_bootstrap_servers, [topic], "reporting-tests")
    await source.start()
    try:
        await source.follow({})
        assert await source.fetch(max_records=10, timeout_ms=100) == []
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"first", key=b"k")
        finally:
            await producer.stop()

        async def read() -> list[bytes]:
            await source.follow({})
            return [r.value for r in await source.fetch(max_records=10, timeout_ms=200)]

        assert await eventually(read, within=30) == [b"first"]
        ends = source.ends()
        assert {position[0] for position in ends} == {topic}
        assert sum(end or 0 for end in ends.values()) == 1
    finally:
        await source.stop()
