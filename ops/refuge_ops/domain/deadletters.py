"""Dead letters as an operator sees them, which ones to replay, and the replayed record.

A dead letter on ``refuge.deadletter.v1`` keeps the original key, value and ``ce_*``
headers byte for byte and adds ``refuge_dlq_*`` headers (origin, consumer, reason,
attempts); :func:`refuge_common.messaging.deadletter.parse_dead_letter` reads them.
The replay of dead letter ``P:O`` is the original record, sent to its origin topic with
the dead-letter headers dropped and ``refuge_replayed_from: refuge.deadletter.v1:P:O``
added: that header, found on the origin topic, is how a later replay knows it was done.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from refuge_common.contract import topics
from refuge_common.contract.envelope import KafkaRecord
from refuge_common.messaging import deadletter
from refuge_ops.domain.records import (
    REPLAYED_FROM,
    RawRecord,
    byte_count,
    decode,
    iso,
    safe_text,
    show_header,
    type_matches,
)
from refuge_ops.domain.shape import shape_of

DLQ_TOPIC = topics.DEADLETTER
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, order=True)
class Position:
    """Where a record is within a topic: ``partition:offset``."""

    partition: int
    offset: int

    @classmethod
    def parse(cls, text: str) -> Position:
        match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", text)
        if match is None:
            raise ValueError(f"{text!r} is not PARTITION:OFFSET (for example 0:42)")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.partition}:{self.offset}"


def printable(text: str) -> str:
    """Platform-written header text, without control characters that could garble a terminal."""

    return _CONTROL.sub("?", text)


@dataclass(frozen=True)
class DeadLetterView:
    position: Position
    failed_at: datetime | None
    origin_topic: str
    origin: Position
    consumer: str
    reason: str
    attempts: int
    type: str | None
    event_id: str | None
    replay_of: str | None
    record: RawRecord
    original: RawRecord


def dead_letter_of(record: RawRecord) -> DeadLetterView:
    """Read a record of the dead-letter topic (its ``refuge_dlq_*`` headers)."""

    letter = deadletter.parse_dead_letter(record)
    original = RawRecord(
        topic=letter.origin_topic,
        partition=letter.origin_partition,
        offset=letter.origin_offset,
        timestamp_ms=record.timestamp_ms,
        key=letter.key,
        value=letter.value,
        headers=tuple(letter.headers),
    )
    try:
        failed_at: datetime | None = datetime.fromisoformat(letter.failed_at)
    except ValueError:
        failed_at = record.timestamp
    return DeadLetterView(
        position=Position(record.partition, record.offset),
        failed_at=failed_at,
        origin_topic=printable(letter.origin_topic),
        origin=Position(letter.origin_partition, letter.origin_offset),
        consumer=printable(letter.consumer),
        reason=printable(letter.error),
        attempts=letter.attempts,
        type=safe_text("ce_type", original.header("ce_type")),
        event_id=safe_text("ce_id", original.header("ce_id")),
        replay_of=safe_text(REPLAYED_FROM, original.header(REPLAYED_FROM)),
        record=record,
        original=original,
    )


def parse_since(text: str) -> datetime:
    """An ISO 8601 date or instant; without an offset it is UTC."""

    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters a command is about; every given criterion must hold."""

    topic: str | None = None
    consumer: str | None = None
    type: str | None = None
    since: datetime | None = None
    positions: frozenset[Position] | None = None

    def __call__(self, letter: DeadLetterView) -> bool:
        if self.positions is not None and letter.position not in self.positions:
            return False
        if self.topic is not None and letter.origin_topic != self.topic:
            return False
        if self.consumer is not None and letter.consumer != self.consumer:
            return False
        if self.type is not None and not type_matches(self.type, letter.type):
            return False
        return not (self.since is not None and (letter.failed_at is None or letter.failed_at < self.since))


def replay_mark(position: Position) -> bytes:
    return f"{DLQ_TOPIC}:{position}".encode()


def replayed_position(record: RawRecord) -> Position | None:
    """The dead letter a record on an origin topic is the replay of, if it is one."""

    mark = safe_text(REPLAYED_FROM, record.header(REPLAYED_FROM))
    if mark is None:
        return None
    topic, partition, offset = mark.rsplit(":", 2)
    return Position(int(partition), int(offset)) if topic == DLQ_TOPIC else None


def replay_record(letter: DeadLetterView) -> KafkaRecord:
    """The original record, back to its origin topic, marked as the replay of ``letter``."""

    headers = [(name, value) for name, value in letter.original.headers if name != REPLAYED_FROM]
    headers.append((REPLAYED_FROM, replay_mark(letter.position)))
    return KafkaRecord(
        topic=letter.origin_topic,
        key=letter.original.key or b"",
        value=letter.original.value or b"",
        headers=headers,
    )


def letter_line(letter: DeadLetterView, replayed_to: str | None) -> str:
    """One line of ``refuge dlq list``."""

    status = f"replayed to {replayed_to}" if replayed_to else "not replayed"
    return (
        f"{letter.position}  {iso(letter.failed_at)}  {letter.origin_topic} p{letter.origin.partition}"
        f"@{letter.origin.offset}  consumer={letter.consumer}  attempts={letter.attempts}"
        f"  type={letter.type or '-'}  id={letter.event_id or '-'}  [{status}]  reason: {letter.reason}"
    )


def letter_details(letter: DeadLetterView, replayed_to: str | None) -> list[str]:
    """``refuge dlq show``: every header (values only where safe) and the data's shape."""

    view = decode(letter.original)
    lines = [
        f"dead letter     {DLQ_TOPIC} {letter.position}",
        f"failed at       {iso(letter.failed_at)}",
        f"origin          {letter.origin_topic} p{letter.origin.partition}@{letter.origin.offset}",
        f"consumer        {letter.consumer}",
        f"attempts        {letter.attempts}",
        f"reason          {letter.reason}",
        f"replayed        {replayed_to or 'no'}",
        *([f"replay of       {letter.replay_of}"] if letter.replay_of else []),
        f"key             {show_header('ce_subject', letter.original.key or b'')}",
        "headers",
    ]
    for name, value in letter.record.headers:
        shown = printable(value.decode(errors="replace")) if name.startswith("refuge_dlq_") else None
        lines.append(f"  {printable(name)}: {shown if shown is not None else show_header(name, value)}")
    lines.append(f"event           {'decodes' if view.decoded else view.problem}")
    lines.append(f"data            {_data_shape(letter.original)}")
    return lines


def _data_shape(record: RawRecord) -> str:
    try:
        data = json.loads(record.value or b"")
    except ValueError:
        return f"not JSON ({byte_count(record.size)} not shown)"
    return shape_of(data)
