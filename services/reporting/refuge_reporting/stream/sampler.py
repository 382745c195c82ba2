"""Samples the streams at an interval and hands each snapshot to every open page.

It also sets ``refuge_consumer_lag{group,topic}`` for Prometheus, so alerts on lag need no
exporter of their own: the figures the page shows are the ones Grafana graphs.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from refuge_common.contract import topics as contract_topics
from refuge_common.observability.logging import get_logger
from refuge_common.observability.metrics import CONSUMER_LAG
from refuge_common.observability.stream_offsets import GroupView, PartitionOffsets
from refuge_reporting.stream.figures import (
    DeadLetterFigure,
    GroupFigure,
    OutboxFigure,
    RateWindow,
    Snapshot,
    TopicFigure,
)

log = get_logger(__name__)
RATE_WINDOW_SECONDS = 10.0
PLATFORM_GROUP = re.compile(r"^refuge\.[a-z_]+\.[a-z_]+$")


class OffsetSource(Protocol):
    async def sample(self) -> tuple[list[PartitionOffsets], list[GroupView]]: ...
    async def close(self) -> None: ...


class DeadLetterSource(Protocol):
    async def refresh(self, now: datetime, partitions: list[int]) -> tuple[int, list[DeadLetterFigure]]: ...
    async def close(self) -> None: ...


OutboxSource = Callable[[], Awaitable[list[OutboxFigure]]]


class StreamSampler:
    def __init__(
        self,
        broker: OffsetSource,
        dead_letters: DeadLetterSource,
        outboxes: OutboxSource,
        *,
        interval: float,
    ) -> None:
        self._broker = broker
        self._dead_letters = dead_letters
        self._outboxes = outboxes
        self._interval = interval
        self._rates = RateWindow(RATE_WINDOW_SECONDS)
        self._changed = asyncio.Condition()
        self.latest: Snapshot | None = None

    async def run(self) -> None:
        try:
            while True:
                snapshot = await self.sample()
                async with self._changed:
                    self.latest = snapshot
                    self._changed.notify_all()
                await asyncio.sleep(self._interval)
        finally:
            await self._broker.close()
            await self._dead_letters.close()

    async def sample(self) -> Snapshot:
        now = datetime.now(UTC)
        broker_error = None
        topic_figures: list[TopicFigure] = []
        group_figures: list[GroupFigure] = []
        dead_count, recent = 0, list[DeadLetterFigure]()
        try:
            offsets, groups = await self._broker.sample()
            topic_figures = self._topic_figures(offsets)
            group_figures = _group_figures(groups)
            dead_letter_partitions = [o.partition for o in offsets if o.topic == contract_topics.DEADLETTER]
            dead_count, recent = await self._dead_letters.refresh(now, dead_letter_partitions)
        except Exception as error:  # the page says the broker is failing and keeps sampling
            broker_error = type(error).__name__
            log.warning("stream_sample_failed", error_type=broker_error)
        outboxes = await self._outboxes()
        return Snapshot(
            taken_at=now.isoformat(timespec="seconds"),
            topics=topic_figures,
            groups=group_figures,
            dead_letters_last_hour=dead_count,
            recent_dead_letters=recent,
            outboxes=outboxes,
            broker_error=broker_error,
        )

    def _topic_figures(self, offsets: list[PartitionOffsets]) -> list[TopicFigure]:
        ends: dict[str, int] = {}
        for partition in offsets:
            ends[partition.topic] = ends.get(partition.topic, 0) + partition.end
        rates = self._rates.add(time.monotonic(), ends)
        return [TopicFigure(topic, end, rates[topic]) for topic, end in sorted(ends.items())]

    async def updates(self) -> AsyncIterator[Snapshot]:
        """The latest snapshot at once if there is one, then each new one."""

        shown: Snapshot | None = None
        while True:
            async with self._changed:
                while self.latest is None or self.latest is shown:
                    await self._changed.wait()
                shown = self.latest
            yield shown


def _group_figures(groups: list[GroupView]) -> list[GroupFigure]:
    # Replaced whole, synchronously: a scrape never sees half of one sample and half of another,
    # and a group that disappeared stops being exported. Only the platform's own groups become
    # label values (a bounded set); integrators' groups, named as they like, are shown on the page.
    CONSUMER_LAG.clear()
    figures = []
    for view in groups:
        by_topic = view.lag_by_topic()
        for topic, lag in by_topic.items():
            if PLATFORM_GROUP.match(view.group) and topic in contract_topics.ALL:
                CONSUMER_LAG.labels(view.group, topic).set(lag)
        figures.append(GroupFigure(view.group, view.state, view.members, view.total_lag, by_topic))
    return figures
