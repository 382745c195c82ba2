"""The event source starts each partition at its stored offset and reads it to its end:
every record once, in order within its partition, over several topics and partitions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from refuge_reporting.adapters.event_source import EventSource, Position

pytestmark = pytest.mark.integration

PARTITIONS = {"a": 3, "b": 2}
PER_PARTITION = 7
STORED = {("a", 1): 2, ("b", 0): PER_PARTITION, ("b", 1): 5}  # ("b", 0): read to its end already


@pytest.fixture
async def filled(kafka_bootstrap_servers: str) -> AsyncIterator[dict[str, str]]:
    """Two topics (3 and 2 partitions), ``PER_PARTITION`` records in each partition."""

    names = {short: f"reporting.positions.{short}.{uuid.uuid4().hex[:8]}" for short in PARTITIONS}
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(names[s], num_partitions=n, replication_factor=1) for s, n in PARTITIONS.items()]
        )
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    try:
        for short, partitions in PARTITIONS.items():
            for partition in range(partitions):
                for offset in range(PER_PARTITION):
                    await producer.send_and_wait(
                        names[short],
                        f"{short}{partition}-{offset}".encode(),
                        key=b"k",
                        partition=partition,
                        headers=[("ce_id", f"{offset}".encode()), ("ce_source", b"/tests")],
                    )
    finally:
        await producer.stop()
    yield names


async def _read_to_the_end(source: EventSource, positions: dict[Position, int]) -> list[Any]:
    """The projector's loop, without the database: fetch until a fetch comes back empty
    with every partition at or past the end the broker reported."""

    read: list[Any] = []
    for _attempt in range(200):
        await source.follow(positions)
        records = await source.fetch(max_records=4, timeout_ms=200)
        for record in records:
            position = (record.topic, record.partition)
            positions[position] = max(positions.get(position, 0), record.offset + 1)
        read += records
        ends = source.ends()
        if not records and ends and all(e is not None and positions.get(p, 0) >= e for p, e in ends.items()):
            return read
    raise AssertionError(f"not at the end after 200 fetches: {positions} of {source.ends()}")


async def test_each_partition_is_read_from_its_stored_offset_to_its_end_once(
    kafka_bootstrap_servers: str, filled: dict[str, str]
) -> None:
    stored = {(filled[short], partition): offset for (short, partition), offset in STORED.items()}
    source = EventSource(kafka_bootstrap_servers, list(filled.values()), "reporting-tests")
    await source.start()
    try:
        read = await _read_to_the_end(source, dict(stored))
        ends = source.ends()
    finally:
        await source.stop()

    every_partition = {(filled[short], p) for short, n in PARTITIONS.items() for p in range(n)}
    assert ends == dict.fromkeys(every_partition, PER_PARTITION)
    expected = {
        position: list(range(stored.get(position, 0), PER_PARTITION)) for position in sorted(every_partition)
    }
    found: dict[Position, list[int]] = {position: [] for position in expected}
    for record in read:
        found[(record.topic, record.partition)].append(record.offset)
    assert found == expected  # from the stored offset, to the end, once, in order
    first = next(r for r in read if (r.topic, r.partition, r.offset) == (filled["a"], 1, 2))
    assert (first.key, first.value) == (b"k", b"a1-2")
    assert list(first.headers) == [("ce_id", b"2"), ("ce_source", b"/tests")]
