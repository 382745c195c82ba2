"""``refuge dlq``: list, show and replay dead letters.

Replays are recorded on the broker itself: each replayed record carries
``refuge_replayed_from: refuge.deadletter.v1:P:O``. Before replaying, the origin topics of
the selected dead letters are read for that header, and a dead letter already replayed
is skipped (unless forced). The record of a replay is the replay, so the two cannot
disagree, and every operator, on any machine, sees the same history. The price is a read
of those origin topics on each ``list`` and ``replay``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field

from refuge_ops.adapters.broker import KafkaGateway, TopicNotFound
from refuge_ops.domain.deadletters import (
    DLQ_TOPIC,
    DeadLetterFilter,
    DeadLetterView,
    Position,
    dead_letter_of,
    replay_record,
    replayed_position,
)
from refuge_ops.domain.records import RawRecord


@dataclass
class DeadLetters:
    letters: list[DeadLetterView] = field(default_factory=list)
    unreadable: list[Position] = field(default_factory=list)
    replays: dict[Position, str] = field(default_factory=dict)
    """Dead letter -> where its replay landed (``topic p@offset``)."""


async def _read_all(broker: KafkaGateway, topic: str) -> list[RawRecord]:
    try:
        partitions = await broker.partitions(topic)
    except TopicNotFound:
        return []
    offsets = await broker.offsets([(topic, p) for p in partitions])
    starts = {o.partition: o.begin for o in offsets}
    ends = {o.partition: o.end for o in offsets}
    async with aclosing(broker.records(topic, starts, ends)) as records:
        return [record async for record in records if record.offset < ends[record.partition]]


async def replays_on(broker: KafkaGateway, origin_topics: set[str]) -> dict[Position, str]:
    """Which dead letters were replayed, read from the replay headers on their origin topics."""

    found: dict[Position, str] = {}
    for topic in sorted(t for t in origin_topics if t):
        for record in await _read_all(broker, topic):
            position = replayed_position(record)
            if position is not None:
                found.setdefault(position, f"{topic} p{record.partition}@{record.offset}")
    return found


async def dead_letters(broker: KafkaGateway, selected: DeadLetterFilter) -> DeadLetters:
    result = DeadLetters()
    for record in await _read_all(broker, DLQ_TOPIC):
        try:
            letter = dead_letter_of(record)
        except ValueError:  # refuge_dlq_* headers that are not numbers: not written by Refuge
            result.unreadable.append(Position(record.partition, record.offset))
            continue
        if selected(letter):
            result.letters.append(letter)
    result.letters.sort(key=_oldest_first)
    result.replays = await replays_on(broker, {letter.origin_topic for letter in result.letters})
    return result


def _oldest_first(letter: DeadLetterView) -> tuple[float, Position]:
    return (letter.failed_at.timestamp() if letter.failed_at else 0.0, letter.position)


async def dead_letter_at(
    broker: KafkaGateway, position: Position
) -> tuple[DeadLetterView, str | None] | None:
    record = await broker.record_at(DLQ_TOPIC, position.partition, position.offset)
    if record is None:
        return None
    letter = dead_letter_of(record)
    replays = await replays_on(broker, {letter.origin_topic})
    return letter, replays.get(position)


@dataclass
class ReplayPlan:
    to_send: list[DeadLetterView] = field(default_factory=list)
    skipped: list[tuple[DeadLetterView, str]] = field(default_factory=list)
    missing: list[Position] = field(default_factory=list)


async def plan_replay(broker: KafkaGateway, selected: DeadLetterFilter, *, force: bool = False) -> ReplayPlan:
    found = await dead_letters(broker, selected)
    plan = ReplayPlan()
    present = {letter.position for letter in found.letters}
    plan.missing = sorted((selected.positions or frozenset()) - present)
    for letter in found.letters:
        replayed_to = found.replays.get(letter.position)
        if not letter.origin_topic or letter.origin.partition < 0:
            plan.skipped.append((letter, "no origin topic in its headers"))
        elif replayed_to is not None and not force:
            plan.skipped.append((letter, f"already replayed to {replayed_to}"))
        else:
            plan.to_send.append(letter)
    return plan


async def replay(
    broker: KafkaGateway, plan: ReplayPlan, sent: Callable[[DeadLetterView, int, int], None]
) -> int:
    """Republish the planned dead letters in dead-letter order; call ``sent`` after each ack."""

    count = 0
    records = (replay_record(letter) for letter in plan.to_send)
    async with aclosing(broker.publish(records)) as acks:
        async for partition, offset in acks:
            sent(plan.to_send[count], partition, offset)
            count += 1
    return count
