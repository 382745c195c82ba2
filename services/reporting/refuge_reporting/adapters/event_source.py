"""Reading every partition of the contract's topics from given offsets, in large batches.

No consumer group: reporting stores its offsets in its own database, in the transaction
that applies a batch (``FactStore.apply``), so it assigns partitions itself and seeks to
those offsets. The end of each partition is the high watermark of the last Fetch answer,
which the embedded Tansu broker reports right (its ListOffsets answer undercounts; see
ops' broker adapter).
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

Position = tuple[str, int]
Share = tuple[int, int]  # (this share, of how many)
METADATA_REFRESH_SECONDS = 5.0


def in_share(topic: str, partition: int, share: Share | None) -> bool:
    """Whether a partition belongs to ``share``: every partition to exactly one share, the
    same one whenever asked (a rebuild's processes each read their own), and a topic's
    partitions spread over the shares from a point that depends on the topic, so that
    topics of one partition do not all land on the first share."""

    if share is None:
        return True
    index, count = share
    return (zlib.crc32(topic.encode()) + partition) % count == index


class EventSource:
    def __init__(
        self, bootstrap_servers: str, topics: Iterable[str], client_id: str, *, share: Share | None = None
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._topics = tuple(topics)
        self._client_id = client_id
        self._share = share
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._assigned: set[TopicPartition] = set()
        self._listed = False  # the topics' partitions listed once at least
        self._refreshed = 0.0

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
            fetch_max_wait_ms=200,
        )
        await self._consumer.start()
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        await self._admin.start()

    async def stop(self) -> None:
        if self._admin is not None:
            await self._admin.close()
            self._admin = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    @property
    def consumer(self) -> AIOKafkaConsumer:
        assert self._consumer is not None, "event source not started"
        return self._consumer

    async def follow(self, positions: Mapping[Position, int]) -> None:
        """Assign every partition of the topics that exist, at ``positions`` (else the start);
        new topics and partitions are picked up on later calls, every few seconds."""

        now = time.monotonic()
        if self._assigned and now - self._refreshed < METADATA_REFRESH_SECONDS:
            return
        self._refreshed = now
        # The admin client's answer, not the consumer's: the consumer's metadata only follows
        # the topics it already has, so a topic created later would never show up there.
        assert self._admin is not None, "event source not started"
        found = {
            TopicPartition(described["topic"], partition["partition"])
            for described in await self._admin.describe_topics()
            if described["topic"] in self._topics and described["error_code"] == 0
            for partition in described["partitions"]
            if in_share(described["topic"], partition["partition"], self._share)
        }
        self._listed = True
        if found == self._assigned:
            return
        self.consumer.assign(sorted(found))
        for tp in found:
            # Offset 0 of a partition whose start was deleted resets to the earliest one.
            self.consumer.seek(tp, positions.get((tp.topic, tp.partition), 0))
        self._assigned = found

    async def fetch(self, *, max_records: int, timeout_ms: int) -> list[Any]:
        """Up to ``max_records`` records, in order within each partition."""

        if not self._assigned:
            await asyncio.sleep(timeout_ms / 1000)  # no topic yet: wait as a fetch would
            return []
        batch = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        records: list[Any] = []
        for partition_records in batch.values():
            records.extend(partition_records)
        return records

    @property
    def assigned(self) -> int | None:
        """How many partitions this source reads (a share may have none); None before the
        topics were first listed."""

        return len(self._assigned) if self._listed else None

    def ends(self) -> dict[Position, int | None]:
        """The high watermark of each assigned partition, once a Fetch has reported it."""

        return {(tp.topic, tp.partition): self.consumer.highwater(tp) for tp in self._assigned}
