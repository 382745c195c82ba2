"""The broker through aiokafka: metadata, offsets, reading, consumer groups, publishing.

Offsets, consumer groups and lag, and the way around the embedded Tansu build's gaps in
them, live in :mod:`refuge_common.observability.kafka_offsets` (reporting's stream page
reads them too); this gateway adds reading records and publishing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition

from refuge_common.contract.envelope import KafkaRecord
from refuge_common.observability.kafka_offsets import POLL_MS, PROBE_SECONDS, BrokerUnavailable, KafkaOffsets
from refuge_ops.domain.records import RawRecord

__all__ = ["BrokerUnavailable", "KafkaGateway", "TopicNotFound"]

IDLE_SECONDS = 5.0


class TopicNotFound(Exception):
    pass


def _raw(record: Any) -> RawRecord:
    return RawRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
        key=record.key,
        value=record.value,
        headers=tuple((name, bytes(value)) for name, value in (record.headers or ())),
    )


class KafkaGateway(KafkaOffsets):
    """One connection's worth of clients; use as ``async with KafkaGateway(servers) as broker``."""

    # -- topics and offsets ------------------------------------------------------------

    async def topic_names(self) -> list[str]:
        return sorted(await self.metadata.topics())

    async def partitions(self, topic: str) -> list[int]:
        await self.metadata.topics()  # refreshes the metadata of every topic
        partitions = self.metadata.partitions_for_topic(topic)
        if not partitions:
            raise TopicNotFound(topic)
        return sorted(partitions)

    # -- reading ---------------------------------------------------------------------

    async def records(
        self, topic: str, starts: Mapping[int, int], ends: Mapping[int, int], *, follow: bool = False
    ) -> AsyncGenerator[RawRecord, None]:
        """Records of ``topic`` from ``starts`` up to ``ends`` per partition; then, with
        ``follow``, every new one until cancelled. Close it (``contextlib.aclosing``)."""

        consumer = self._consumer()
        await consumer.start()
        try:
            tps = {partition: TopicPartition(topic, partition) for partition in starts}
            consumer.assign(list(tps.values()))
            for partition, tp in tps.items():
                consumer.seek(tp, starts[partition])
            pending = {p for p in starts if starts[p] < ends.get(p, 0)}
            idle_since = time.monotonic()
            while pending or follow:
                batch = await consumer.getmany(timeout_ms=POLL_MS, max_records=1000)
                if batch:
                    idle_since = time.monotonic()
                for partition_records in batch.values():
                    for record in partition_records:
                        yield _raw(record)
                for partition in list(pending):
                    if await consumer.position(tps[partition]) >= ends[partition]:
                        pending.discard(partition)
                if pending and not follow and time.monotonic() - idle_since > IDLE_SECONDS:
                    break  # the end the broker reported is not reachable; stop rather than hang
        finally:
            await consumer.stop()

    async def record_at(self, topic: str, partition: int, offset: int) -> RawRecord | None:
        consumer = self._consumer()
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            deadline = time.monotonic() + PROBE_SECONDS
            while time.monotonic() < deadline:
                batch = await consumer.getmany(tp, timeout_ms=POLL_MS, max_records=1)
                for record in batch.get(tp, []):
                    return _raw(record) if record.offset == offset else None
            return None
        finally:
            await consumer.stop()

    # -- publishing ------------------------------------------------------------------

    async def publish(self, records: Iterable[KafkaRecord]) -> AsyncGenerator[tuple[int, int], None]:
        """Send records one at a time, in order, each acknowledged by all in-sync replicas;
        yield the (partition, offset) of each as it is acknowledged."""

        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=False,  # Tansu has no InitProducerId; consumers dedupe on source+id
            request_timeout_ms=15_000,
        )
        await producer.start()
        try:
            for record in records:
                metadata = await producer.send_and_wait(
                    record.topic, record.value, key=record.key or None, headers=record.headers
                )
                yield metadata.partition, metadata.offset
        finally:
            await producer.stop()
