"""The broker through aiokafka: metadata, offsets, reading, consumer groups, publishing.

Works with Apache Kafka and with the embedded Tansu build, whose gaps it goes around:

- ListOffsets(latest) answers the base offset of the last record batch + 1, not the
  high watermark, so an end offset undercounts when producers batch. :meth:`offsets`
  fetches the last batch of each partition and takes the high watermark of that Fetch
  response, which Tansu gets right (``exact=False`` skips this).
- OffsetFetch for *all* of a group's partitions (a null topic list) gets an answer
  aiokafka cannot decode, and the connection drops; :meth:`committed` always names the
  partitions, which every broker answers.
- DescribeGroups naming several groups gets an answer whose entries after the first are
  garbled, sometimes beyond decoding (the connection drops); :meth:`describe` asks for one
  group per request. Members come back without client id, host or assignment.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Iterable, Mapping
from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from refuge_common.contract.envelope import KafkaRecord
from refuge_ops.domain.offsets import PartitionOffsets
from refuge_ops.domain.records import RawRecord

POLL_MS = 300
PROBE_SECONDS = 5.0
IDLE_SECONDS = 5.0


class BrokerUnavailable(Exception):
    """The broker did not answer."""


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


class KafkaGateway:
    """One connection's worth of clients; use as ``async with KafkaGateway(servers) as broker``."""

    def __init__(self, bootstrap_servers: str, *, client_id: str = "refuge-ops") -> None:
        self.bootstrap_servers = bootstrap_servers
        self._client_id = client_id
        self._admin: AIOKafkaAdminClient | None = None
        self._metadata: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> Self:
        try:
            self._metadata = self._consumer()
            await self._metadata.start()
            self._admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap_servers, client_id=self._client_id
            )
            await self._admin.start()
        except KafkaError as error:
            await self.__aexit__(None, None, None)
            raise BrokerUnavailable(f"{self.bootstrap_servers}: {type(error).__name__}") from error
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._admin is not None:
            await self._admin.close()
            self._admin = None
        if self._metadata is not None:
            await self._metadata.stop()
            self._metadata = None

    def _consumer(self, group_id: str | None = None) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self._client_id,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )

    @property
    def admin(self) -> AIOKafkaAdminClient:
        assert self._admin is not None, "KafkaGateway used outside `async with`"
        return self._admin

    @property
    def metadata(self) -> AIOKafkaConsumer:
        assert self._metadata is not None, "KafkaGateway used outside `async with`"
        return self._metadata

    # -- topics and offsets ------------------------------------------------------------

    async def topic_names(self) -> list[str]:
        return sorted(await self.metadata.topics())

    async def partitions(self, topic: str) -> list[int]:
        await self.metadata.topics()  # refreshes the metadata of every topic
        partitions = self.metadata.partitions_for_topic(topic)
        if not partitions:
            raise TopicNotFound(topic)
        return sorted(partitions)

    async def topic_partitions(self) -> dict[str, list[int]]:
        """Every topic and its partitions, from one metadata refresh."""

        names = await self.metadata.topics()
        return {name: sorted(self.metadata.partitions_for_topic(name) or ()) for name in sorted(names)}

    async def offsets(
        self, topic_partitions: Iterable[tuple[str, int]], *, exact: bool = True
    ) -> list[PartitionOffsets]:
        tps = [TopicPartition(topic, partition) for topic, partition in topic_partitions]
        if not tps:
            return []
        begins = await self.metadata.beginning_offsets(tps)
        ends = await self.metadata.end_offsets(tps)
        probed = (
            await self._high_watermarks({tp: ends[tp] for tp in tps if ends[tp] > begins[tp]})
            if exact
            else {}
        )
        return [
            PartitionOffsets(tp.topic, tp.partition, begins[tp], max(ends[tp], probed.get(tp, 0)), ends[tp])
            for tp in tps
        ]

    async def _high_watermarks(self, reported: Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
        """The high watermark of a Fetch from the last record the broker reported, per partition."""

        if not reported:
            return {}
        consumer = self._consumer()
        await consumer.start()
        try:
            consumer.assign(list(reported))
            for tp, end in reported.items():
                consumer.seek(tp, end - 1)
            found: dict[TopicPartition, int] = {}
            deadline = time.monotonic() + PROBE_SECONDS
            while len(found) < len(reported) and time.monotonic() < deadline:
                await consumer.getmany(timeout_ms=POLL_MS)
                for tp in reported:
                    highwater = consumer.highwater(tp)
                    if highwater is not None:
                        found[tp] = highwater
            return found
        finally:
            await consumer.stop()

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

    # -- consumer groups -------------------------------------------------------------

    async def groups(self) -> list[str]:
        listed = await self.admin.list_consumer_groups()
        return sorted({str(entry[0]) for entry in listed})

    async def describe(self, group_ids: list[str]) -> dict[str, tuple[str, int | None]]:
        """State and member count per group, as DescribeGroups answers them; a group the
        broker fails to describe is left out."""

        described: dict[str, tuple[str, int | None]] = {}
        for group_id in group_ids:  # one per request: Tansu garbles all but the first of several
            try:
                responses = await self.admin.describe_consumer_groups([group_id])
            except KafkaError:
                continue
            for response in responses:
                for entry in response.groups:
                    error_code, name, state, members = entry[0], entry[1], entry[2], entry[-1]
                    if error_code == 0 and name == group_id:
                        described[group_id] = (str(state), len(members))
        return described

    async def committed(
        self, group: str, topic_partitions: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        """The offsets ``group`` committed on these partitions (those it has none on are left out)."""

        tps = [TopicPartition(topic, partition) for topic, partition in topic_partitions]
        if not tps:
            return {}
        answer = await self.admin.list_consumer_group_offsets(group, partitions=tps)
        return {(tp.topic, tp.partition): meta.offset for tp, meta in answer.items() if meta.offset >= 0}

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
