"""The broker as the stream page samples it: end offsets, consumer lag, recent dead letters.

Offsets and lag go through :mod:`refuge_common.observability.kafka_offsets`, which the
``refuge`` command line uses too (and which goes around the embedded Tansu build's gaps).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from refuge_common.contract import topics
from refuge_common.observability.kafka_offsets import KafkaOffsets, group_views, topic_offsets
from refuge_common.observability.stream_offsets import GroupView, PartitionOffsets
from refuge_reporting.stream.figures import DeadLetterFigure, dead_letter_figure
from refuge_reporting.stream.recent_dead_letters import RecentDeadLetters

DRAIN_POLL_MS = 200


class StreamBroker:
    """One long-lived admin connection, reopened after a failure."""

    def __init__(self, bootstrap_servers: str, *, client_id: str = "refuge-reporting-stream") -> None:
        self._bootstrap_servers = bootstrap_servers
        self._client_id = client_id
        self._offsets: KafkaOffsets | None = None

    async def sample(self) -> tuple[list[PartitionOffsets], list[GroupView]]:
        if self._offsets is None:
            opened = KafkaOffsets(self._bootstrap_servers, client_id=self._client_id)
            self._offsets = await opened.__aenter__()
        try:
            offsets = await topic_offsets(self._offsets)
            groups = await group_views(self._offsets, known_offsets=offsets)
        except BaseException:
            await self.close()  # a half-broken connection is not worth keeping
            raise
        return offsets, groups

    async def close(self) -> None:
        if self._offsets is not None:
            offsets, self._offsets = self._offsets, None
            await offsets.__aexit__(None, None, None)


class DeadLetterWatch:
    """Follows ``refuge.deadletter.v1`` without a consumer group and keeps the last hour."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        window: timedelta = timedelta(hours=1),
        keep: int = 20,
        client_id: str = "refuge-reporting-stream",
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._window = window
        self._client_id = client_id
        self._consumer: AIOKafkaConsumer | None = None
        self._seen = RecentDeadLetters(window, keep)

    async def refresh(self, now: datetime, partitions: list[int]) -> tuple[int, list[DeadLetterFigure]]:
        """How many dead letters arrived in the window before ``now``, and the latest ones,
        newest first. ``partitions``: those of the dead-letter topic, as the admin client sees
        them (this consumer's cached metadata would not show a topic created after it started)."""

        consumer = await self._started()
        try:
            await self._assign_new_partitions(consumer, now, partitions)
            # Without an assignment (no dead letter yet, no topic) getmany would wait for one forever.
            while consumer.assignment() and (
                batch := await consumer.getmany(timeout_ms=DRAIN_POLL_MS, max_records=1000)
            ):
                for records in batch.values():
                    for record in records:
                        at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
                        headers = {name: bytes(value) for name, value in record.headers or ()}
                        self._seen.add(at, dead_letter_figure(headers, at))
        except BaseException:
            await self.close()
            raise
        self._seen.prune(now)
        return self._seen.count, self._seen.newest()

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap_servers,
                client_id=self._client_id,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            await consumer.start()
            self._consumer = consumer
            self._seen.clear()
        return self._consumer

    async def _assign_new_partitions(
        self, consumer: AIOKafkaConsumer, now: datetime, partitions: list[int]
    ) -> None:
        assigned = consumer.assignment()
        fresh = [TopicPartition(topics.DEADLETTER, p) for p in sorted(partitions)]
        fresh = [tp for tp in fresh if tp not in assigned]
        if not fresh:
            return
        consumer.assign([*assigned, *fresh])
        since = int((now - self._window).timestamp() * 1000)
        try:
            found = await consumer.offsets_for_times(dict.fromkeys(fresh, since))
        except KafkaError:
            found = {}  # a broker without timestamp lookups: read from the start, filter by time
        for tp in fresh:
            start = found.get(tp)
            if start is None and tp in found:
                await consumer.seek_to_end(tp)  # nothing that recent
            elif start is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, start.offset)

    async def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()
