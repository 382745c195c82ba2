"""`refuge topics` and `refuge groups` against the real broker: partitions, end offsets, lag."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from ops_events import case_opened
from ops_kafka import Kafka, refuge, unique

from refuge_common.contract.envelope import to_record

pytestmark = pytest.mark.integration
TENANT = uuid.uuid4()


def rows(output: str, first: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines() if line.split()[:1] == [first]]


async def publish(kafka: Kafka, topic: str, count: int, partition: int) -> None:
    records = [dataclasses.replace(to_record(case_opened(TENANT)), topic=topic) for _ in range(count)]
    await kafka.produce(records, partition=partition)


async def test_topics_shows_partitions_and_end_offsets(kafka: Kafka) -> None:
    topic = await kafka.create_topic("ops.topics", partitions=2)
    await publish(kafka, topic, 3, partition=0)
    await publish(kafka, topic, 1, partition=1)
    result = await refuge(kafka, "topics")
    assert result.stdout.splitlines()[0].split() == ["TOPIC", "PARTITION", "BEGIN", "END"]
    assert rows(result.stdout, topic) == [[topic, "0", "0", "3"], [topic, "1", "0", "1"]]
    fast = await refuge(kafka, "topics", "--fast")
    assert rows(fast.stdout, topic) == [[topic, "0", "0", "3"], [topic, "1", "0", "1"]]


async def test_topics_counts_every_record_of_a_batch(kafka: Kafka) -> None:
    """Tansu answers ListOffsets with the start of the last batch + 1; --exact reads past it."""

    topic = await kafka.create_topic("ops.batched")
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all", linger_ms=200)
    await producer.start()
    try:
        record = to_record(case_opened(TENANT))
        sent = [await producer.send(topic, record.value, key=record.key, partition=0) for _ in range(5)]
        offsets = sorted(metadata.offset for metadata in await asyncio.gather(*sent))
    finally:
        await producer.stop()
    assert offsets == [0, 1, 2, 3, 4]
    exact = await refuge(kafka, "topics")
    assert rows(exact.stdout, topic)[0][:4] == [topic, "0", "0", "5"]
    fast = rows((await refuge(kafka, "topics", "--fast")).stdout, topic)[0]
    assert 1 <= int(fast[3]) <= 5  # 1 on this Tansu build when the five travelled as one batch


async def consume_and_commit(kafka: Kafka, topic: str, group: str, commits: dict[int, int]) -> None:
    """Join ``group``, read the topic, commit the given offset per partition, leave."""

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=3000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    try:
        seen = 0
        while seen < sum(commits.values()):
            batch = await consumer.getmany(timeout_ms=500)
            seen += sum(len(records) for records in batch.values())
        await consumer.commit({TopicPartition(topic, p): offset for p, offset in commits.items()})
    finally:
        await consumer.stop()


async def test_groups_shows_committed_end_and_lag(kafka: Kafka) -> None:
    topic = await kafka.create_topic("ops.lag", partitions=2)
    await publish(kafka, topic, 5, partition=0)
    await publish(kafka, topic, 2, partition=1)
    group = unique("ops-group")
    await asyncio.wait_for(consume_and_commit(kafka, topic, group, {0: 2, 1: 2}), timeout=60)

    result = await refuge(kafka, "groups", group)
    head = result.stdout.splitlines()[0]
    assert head.startswith(f"group {group}  state=") and head.endswith("lag=3")
    assert rows(result.stdout, topic) == [[topic, "0", "2", "5", "3"], [topic, "1", "2", "2", "0"]]

    # Several groups at once (Tansu garbles a DescribeGroups naming more than one).
    other = unique("ops-group")
    await asyncio.wait_for(consume_and_commit(kafka, topic, other, {0: 5}), timeout=60)
    await publish(kafka, topic, 4, partition=1)
    everyone = await refuge(kafka, "groups")
    blocks = {block.split()[0]: block for block in everyone.stdout.split("group ")[1:]}
    assert blocks[group].splitlines()[0].endswith("lag=7") and blocks[other].splitlines()[0].endswith("lag=0")
    assert rows(blocks[group], topic) == [[topic, "0", "2", "5", "3"], [topic, "1", "2", "6", "4"]]
    assert rows(blocks[other], topic) == [[topic, "0", "5", "5", "0"]]


async def test_an_unknown_group_is_said_so(kafka: Kafka) -> None:
    result = await refuge(kafka, "groups", unique("nobody"), ok=False)
    assert result.exit_code == 1 and "no consumer group" in result.output
