"""The dead-letter topic: a record that could not be applied, with its origin.

The original key, value and headers are kept byte for byte so that a replay to
the origin topic is the same event (same ``source`` + ``id``, deduplicated by
consumers). Origin headers say where it came from and why it failed; the reason
names fields and error types, never values (they may be personal data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from refuge_common.contract import topics
from refuge_common.contract.envelope import KafkaRecord
from refuge_common.messaging.producer import EventProducer

ORIGIN_TOPIC = "refuge_dlq_topic"
ORIGIN_PARTITION = "refuge_dlq_partition"
ORIGIN_OFFSET = "refuge_dlq_offset"
ORIGIN_CONSUMER = "refuge_dlq_consumer"
ERROR = "refuge_dlq_error"
ATTEMPTS = "refuge_dlq_attempts"
FAILED_AT = "refuge_dlq_failed_at"
ORIGIN_HEADERS = (ORIGIN_TOPIC, ORIGIN_PARTITION, ORIGIN_OFFSET, ORIGIN_CONSUMER, ERROR, ATTEMPTS, FAILED_AT)
MAX_REASON_LENGTH = 1_000


@dataclass(frozen=True)
class DeadLetter:
    origin_topic: str
    origin_partition: int
    origin_offset: int
    consumer: str
    error: str
    attempts: int
    failed_at: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def dead_letter_record(record: Any, *, consumer: str, error: str, attempts: int) -> KafkaRecord:
    """Build the dead-letter record of an aiokafka ``ConsumerRecord``."""

    origin = [(name, bytes(value)) for name, value in (record.headers or ()) if name not in ORIGIN_HEADERS]
    origin += [
        (ORIGIN_TOPIC, record.topic.encode()),
        (ORIGIN_PARTITION, str(record.partition).encode()),
        (ORIGIN_OFFSET, str(record.offset).encode()),
        (ORIGIN_CONSUMER, consumer.encode()),
        (ERROR, error[:MAX_REASON_LENGTH].encode()),
        (ATTEMPTS, str(attempts).encode()),
        (FAILED_AT, datetime.now(UTC).isoformat().encode()),
    ]
    return KafkaRecord(
        topic=topics.DEADLETTER, key=record.key or b"", value=record.value or b"", headers=origin
    )


def parse_dead_letter(record: Any) -> DeadLetter:
    headers = {name: bytes(value) for name, value in (record.headers or ())}

    def text(name: str) -> str:
        return headers.get(name, b"").decode(errors="replace")

    return DeadLetter(
        origin_topic=text(ORIGIN_TOPIC),
        origin_partition=int(text(ORIGIN_PARTITION) or -1),
        origin_offset=int(text(ORIGIN_OFFSET) or -1),
        consumer=text(ORIGIN_CONSUMER),
        error=text(ERROR),
        attempts=int(text(ATTEMPTS) or 0),
        failed_at=text(FAILED_AT),
        key=record.key,
        value=record.value,
        headers=[(n, v) for n, v in headers.items() if n not in ORIGIN_HEADERS],
    )


async def send_to_dead_letters(
    producer: EventProducer, record: Any, *, consumer: str, error: str, attempts: int
) -> None:
    await producer.send_in_order(
        [dead_letter_record(record, consumer=consumer, error=error, attempts=attempts)]
    )
