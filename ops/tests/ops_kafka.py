"""Plain aiokafka access to the test broker, and the `refuge` command line run as an operator would."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from click.testing import Result
from typer.testing import CliRunner

from refuge_common.contract.envelope import KafkaRecord
from refuge_ops.entrypoints.cli import app


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class Kafka:
    bootstrap_servers: str

    async def create_topic(self, prefix: str, partitions: int = 1) -> str:
        name = unique(prefix)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        finally:
            await admin.close()
        return name

    async def produce(
        self, records: Sequence[KafkaRecord], partition: int | None = None
    ) -> list[tuple[int, int]]:
        """One record per request (send_and_wait), so that every batch holds one record."""

        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all")
        await producer.start()
        try:
            placed = []
            for record in records:
                metadata = await producer.send_and_wait(
                    record.topic, record.value, key=record.key, headers=record.headers, partition=partition
                )
                placed.append((metadata.partition, metadata.offset))
            return placed
        finally:
            await producer.stop()

    async def read(
        self, topic: str, *, at_least: int = 0, within: float = 10.0
    ) -> list[ConsumerRecord[Any, Any]]:
        """Every record of ``topic`` (no group), waiting for at least ``at_least`` of them."""

        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False)
        await consumer.start()
        records: list[ConsumerRecord[Any, Any]] = []
        try:
            await consumer.topics()
            partitions = consumer.partitions_for_topic(topic) or set()
            consumer.assign([TopicPartition(topic, p) for p in partitions])
            await consumer.seek_to_beginning()
            deadline = time.monotonic() + within
            idle = 0
            while time.monotonic() < deadline and (len(records) < at_least or idle < 3):
                batch = await consumer.getmany(timeout_ms=200)
                idle = 0 if batch else idle + 1
                for partition_records in batch.values():
                    records.extend(partition_records)
        finally:
            await consumer.stop()
        return sorted(records, key=lambda r: (r.partition, r.offset))


async def refuge(kafka: Kafka, *args: str, ok: bool = True, stdin: str | None = None) -> Result:
    """Run `refuge --bootstrap ... ARGS` in a thread (the command runs its own event loop)."""

    command = ["--bootstrap", kafka.bootstrap_servers, *args]
    result = await asyncio.to_thread(CliRunner().invoke, app, command, input=stdin)
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result
