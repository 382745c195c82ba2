"""End offsets, consumer groups and lag read from the broker through aiokafka.

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

Shared by the ``refuge`` command line (ops) and reporting's live stream page.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Self

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from refuge_common.observability.stream_offsets import GroupPartition, GroupView, PartitionOffsets

POLL_MS = 300
PROBE_SECONDS = 5.0


class BrokerUnavailable(Exception):
    """The broker did not answer."""


class KafkaOffsets:
    """Metadata and admin clients; use as ``async with KafkaOffsets(servers) as broker``."""

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
        assert self._admin is not None, f"{type(self).__name__} used outside `async with`"
        return self._admin

    @property
    def metadata(self) -> AIOKafkaConsumer:
        assert self._metadata is not None, f"{type(self).__name__} used outside `async with`"
        return self._metadata

    # -- topics and offsets ------------------------------------------------------------

    async def topic_partitions(self) -> dict[str, list[int]]:
        """Every topic and its partitions, from one Metadata request.

        Asked of the admin client: the consumer's ``partitions_for_topic`` answers from the
        metadata it cached, which a long-lived client (the stream page's) never refreshes for
        a topic created after it started."""

        described = await self.admin.describe_topics()
        return {
            str(topic["topic"]): sorted(int(p["partition"]) for p in topic["partitions"])
            for topic in sorted(described, key=lambda topic: str(topic["topic"]))
            if topic.get("error_code", 0) == 0
        }

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


async def topic_offsets(broker: KafkaOffsets, *, exact: bool = True) -> list[PartitionOffsets]:
    partitions = await broker.topic_partitions()
    return await broker.offsets([(t, p) for t, ps in partitions.items() for p in ps], exact=exact)


async def group_views(
    broker: KafkaOffsets,
    group: str | None = None,
    *,
    exact: bool = True,
    known_offsets: Iterable[PartitionOffsets] = (),
) -> list[GroupView]:
    """Each group (or the one named) with its committed offsets, end offsets and lag.

    The partitions a group consumes are those it committed an offset on: every partition
    of every topic is asked for by name (see the module's notes on OffsetFetch). End offsets
    already read (``known_offsets``) are not asked for again.
    """

    listed = await broker.groups()
    wanted = [group] if group is not None else listed
    described = await broker.describe([g for g in wanted if g in listed])
    everything = [(t, p) for t, ps in (await broker.topic_partitions()).items() for p in ps]
    committed = {g: await broker.committed(g, everything) for g in wanted}
    ends = {(o.topic, o.partition): o.end for o in known_offsets}
    needed = sorted({tp for offsets in committed.values() for tp in offsets} - ends.keys())
    ends |= {(o.topic, o.partition): o.end for o in await broker.offsets(needed, exact=exact)}
    views = []
    for g in wanted:
        state, members = described.get(g, ("", None))
        partitions = tuple(
            GroupPartition(t, p, offset, ends[(t, p)]) for (t, p), offset in committed[g].items()
        )
        views.append(GroupView(g, state, members, partitions, known=g in listed))
    return views
