"""``refuge topics``, ``refuge groups`` and ``refuge tail`` over a broker gateway."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass

from refuge_common.contract import topics as contract_topics
from refuge_common.observability import kafka_offsets
from refuge_ops.adapters.broker import KafkaGateway
from refuge_ops.domain.offsets import GroupView, PartitionOffsets
from refuge_ops.domain.records import EventFilter, EventView, RawRecord, decode

FILTER_WINDOW = 10_000
"""Without ``--from-beginning``, a filtered tail looks at this many last records per partition."""


def resolve_topic(name: str) -> str:
    """A contract topic may be named short: ``cases`` is ``refuge.cases.v1``."""

    short = f"refuge.{name}.v1"
    return short if name not in contract_topics.ALL and short in contract_topics.ALL else name


async def topic_offsets(broker: KafkaGateway, *, exact: bool = True) -> list[PartitionOffsets]:
    return await kafka_offsets.topic_offsets(broker, exact=exact)


async def group_views(
    broker: KafkaGateway, group: str | None = None, *, exact: bool = True
) -> list[GroupView]:
    """Each group (or the one named) with its committed offsets, end offsets and lag (the
    reading is shared with reporting's stream page: :mod:`refuge_common.observability.kafka_offsets`)."""

    return await kafka_offsets.group_views(broker, group, exact=exact)


@dataclass(frozen=True)
class TailRequest:
    topic: str
    filter: EventFilter
    limit: int = 20
    """At most this many events from what is already on the topic (0: no limit)."""
    from_beginning: bool = False
    follow: bool = False


async def tail(broker: KafkaGateway, request: TailRequest, emit: Callable[[EventView], None]) -> int:
    """Emit the last ``limit`` matching events already on the topic (the first ones with
    ``from_beginning``), oldest first; with ``follow``, then every new one until cancelled.
    Return how many were emitted."""

    partitions = await broker.partitions(request.topic)
    offsets = await broker.offsets([(request.topic, p) for p in partitions])
    limit = request.limit if request.limit > 0 else None
    window = max(limit or 0, FILTER_WINDOW) if request.filter.active else limit
    starts = {
        o.partition: o.begin if request.from_beginning or window is None else max(o.begin, o.end - window)
        for o in offsets
    }
    ends = {o.partition: o.end for o in offsets}
    shown = await (_first if request.from_beginning else _last)(broker, request, starts, ends, limit)
    for view in shown:
        emit(view)
    if not request.follow:
        return len(shown)
    count = len(shown)
    async with aclosing(broker.records(request.topic, ends, ends, follow=True)) as new:
        async for record in new:
            view = decode(record)
            if request.filter(view):
                emit(view)
                count += 1
    return count


async def _first(
    broker: KafkaGateway,
    request: TailRequest,
    starts: dict[int, int],
    ends: dict[int, int],
    limit: int | None,
) -> list[EventView]:
    """The first ``limit`` matching events, merged across partitions by time."""

    found: dict[int, list[tuple[int, int, int, EventView]]] = {p: [] for p in starts if starts[p] < ends[p]}
    async with aclosing(broker.records(request.topic, starts, ends)) as backlog:
        async for record in backlog:
            mine = found.get(record.partition)
            if mine is None or record.offset >= ends[record.partition]:
                continue
            if (limit is None or len(mine) < limit) and request.filter(view := decode(record)):
                mine.append((_when(record), record.partition, record.offset, view))
            if limit is not None and all(len(items) >= limit for items in found.values()):
                break  # every partition has given its first `limit`: no need to read further
    merged = sorted((item for items in found.values() for item in items), key=lambda item: item[:3])
    return [view for *_, view in (merged[:limit] if limit else merged)]


async def _last(
    broker: KafkaGateway,
    request: TailRequest,
    starts: dict[int, int],
    ends: dict[int, int],
    limit: int | None,
) -> list[EventView]:
    """The last ``limit`` matching events, oldest first, merged across partitions by time."""

    kept: dict[int, deque[tuple[int, int, int, EventView]]] = {p: deque(maxlen=limit) for p in starts}
    async with aclosing(broker.records(request.topic, starts, ends)) as backlog:
        async for record in backlog:
            view = decode(record)
            if record.offset < ends[record.partition] and request.filter(view):
                kept[record.partition].append((_when(record), record.partition, record.offset, view))
    merged = sorted((item for items in kept.values() for item in items), key=lambda item: item[:3])
    return [view for *_, view in (merged[-limit:] if limit else merged)]


def _when(record: RawRecord) -> int:
    return record.timestamp_ms if record.timestamp_ms is not None else 0
