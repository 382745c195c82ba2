"""Idempotent, at-least-once event consumers on FastStream.

For each record: decode the CloudEvent; apply its handler and record its
``source`` + ``id`` in the inbox in ONE PostgreSQL transaction (scoped to the
event's tenant); only then does FastStream commit the Kafka offset
(``AckPolicy.NACK_ON_ERROR``, never the at-most-once ``ACK_FIRST`` default).
A failing event is retried with backoff, then written to ``refuge.deadletter.v1``
with its origin and the consumer moves on. A record that is not a valid event
goes to the dead-letter topic at once. If even the dead-letter write fails, the
exception reaches FastStream, which seeks back: the record is not lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sysconfig
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from pydantic import ValidationError

from refuge_common.contract.base import EventData
from refuge_common.contract.envelope import Envelope, MalformedEvent, UnknownEventType, from_record
from refuge_common.db.pool import Connection, set_tenant
from refuge_common.messaging.deadletter import send_to_dead_letters
from refuge_common.messaging.producer import EventProducer
from refuge_common.messaging.retry import PermanentError, RetryPolicy
from refuge_common.observability.logging import get_logger
from refuge_common.observability.metrics import (
    MALFORMED,
    MESSAGE_FAILURES,
    MESSAGES_CONSUMED,
    MESSAGES_DEAD_LETTERED,
    PROCESSING_SECONDS,
    UNKNOWN_TYPE,
)

log = get_logger(__name__)

Handler = Callable[[Connection, Envelope], Awaitable[None]]


async def _raw_body(message: Any) -> bytes:
    # The envelope is decoded here, not by FastStream, so a malformed body is a
    # dead letter rather than an exception before our handler runs.
    return bytes(message.body)


async def _tolerant_parser(record: Any, parse: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream's parser decodes every header as UTF-8; one that is not would raise
    before our handler, and NACK would redeliver it forever, stalling the partition.
    Parse a copy whose header values are made decodable, and keep the real record
    (raw bytes intact, for the dead-letter topic) as the message's raw_message."""

    try:
        return await parse(record)
    except UnicodeDecodeError:
        readable = [(name, value.decode(errors="replace").encode()) for name, value in record.headers]
        message = await parse(dataclasses.replace(record, headers=readable))
        message.raw_message = record
        return message


def describe_failure(error: Exception) -> str:
    """Why applying an event failed, for the dead-letter header and the log: the kind of
    error and the fields, columns or constraint involved, never the values (a database or
    validation message may quote personal data)."""

    kind = type(error).__name__
    if isinstance(error, ValidationError):
        fields = sorted({".".join(map(str, item["loc"])) or "data" for item in error.errors()})
        return f"{kind}: invalid {', '.join(fields)}"
    if isinstance(error, asyncpg.PostgresError):
        names = [
            f"{label}={value}"
            for label, value in (
                ("sqlstate", error.sqlstate),
                ("table", getattr(error, "table_name", None)),
                ("column", getattr(error, "column_name", None)),
                ("constraint", getattr(error, "constraint_name", None)),
            )
            if value
        ]
        return f"{kind}: {' '.join(names)}"
    return f"{kind} at {_where(error)}"


def _where(error: Exception) -> str:
    """The innermost frame of our own code: where to look, without what was in hand."""

    location = "unknown"
    for frame, line in traceback.walk_tb(error.__traceback__):
        filename = frame.f_code.co_filename
        if not filename.startswith(_LIBRARY_PREFIXES):
            location = f"{Path(filename).name}:{line} ({frame.f_code.co_name})"
    return location


_LIBRARY_PREFIXES = tuple({sysconfig.get_paths()[key] for key in ("stdlib", "purelib", "platlib")})


class EventConsumer:
    """One consumer group: handlers per event type, applied once each."""

    def __init__(self, name: str, *, retry: RetryPolicy | None = None) -> None:
        self.name = name
        self._retry = retry or RetryPolicy()
        self._handlers: dict[str, Handler] = {}
        self._pool: asyncpg.Pool | None = None
        self._producer: EventProducer | None = None

    def attach(self, pool: asyncpg.Pool, producer: EventProducer) -> None:
        """Give the consumer its database and producer once the service has started them."""

        self._pool = pool
        self._producer = producer

    def on(self, *event_types: type[EventData]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for event_type in event_types:
                self._handlers[event_type.TYPE] = handler
            return handler

        return register

    def subscribe(
        self, broker: KafkaBroker, topic: str, *, max_workers: int = 1, session_timeout_ms: int = 10_000
    ) -> None:
        """Consume ``topic`` with this group; partitions in parallel when max_workers > 1."""

        async def handle(body: bytes, message: KafkaMessage) -> None:
            await self.process(message.raw_message)

        broker.subscriber(
            topic,
            group_id=self.name,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            decoder=_raw_body,
            parser=_tolerant_parser,
            max_workers=max_workers,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=max(100, session_timeout_ms // 3),
            title=f"{self.name}:{topic}",
        )(handle)

    async def process(self, record: Any) -> None:
        started = time.perf_counter()
        topic = record.topic
        try:
            envelope = from_record(record.headers, record.key, record.value)
        except UnknownEventType as error:
            # A type from a newer contract version: not ours to handle, not an error.
            log.info("event_ignored", topic=topic, reason=str(error))
            MESSAGES_CONSUMED.labels(self.name, topic, UNKNOWN_TYPE, "ignored").inc()
            return
        except MalformedEvent as error:
            await self._dead_letter(record, f"malformed: {error}", attempts=1, event_type=MALFORMED)
            return
        # from_record refuses types outside the contract: envelope.type is a bounded label value.
        handler = self._handlers.get(envelope.type)
        if handler is None:
            MESSAGES_CONSUMED.labels(self.name, topic, envelope.type, "ignored").inc()
            return
        with structlog.contextvars.bound_contextvars(
            event_id=envelope.id,
            event_type=envelope.type,
            tenant_id=str(envelope.tenant_id) if envelope.tenant_id else None,
            case_id=str(getattr(envelope.data, "case_id", "") or "") or None,
        ):
            await self._apply_with_retry(record, envelope, handler)
        PROCESSING_SECONDS.labels(self.name, topic, envelope.type).observe(time.perf_counter() - started)

    async def _apply_with_retry(self, record: Any, envelope: Envelope, handler: Handler) -> None:
        topic = record.topic
        for attempt in range(1, self._retry.max_attempts + 1):
            try:
                applied = await self._apply_once(envelope, handler)
            except PermanentError as error:
                await self._dead_letter(
                    record, f"rejected: {error}", attempts=attempt, event_type=envelope.type
                )
                return
            except Exception as error:
                MESSAGE_FAILURES.labels(self.name, topic, envelope.type).inc()
                reason = describe_failure(error)
                if attempt == self._retry.max_attempts:
                    await self._dead_letter(
                        record, f"failed: {reason}", attempts=attempt, event_type=envelope.type
                    )
                    return
                delay = self._retry.delay(attempt)
                log.warning(
                    "event_failed_retrying",
                    attempt=attempt,
                    delay_s=round(delay, 3),
                    error_type=type(error).__name__,
                )
                await asyncio.sleep(delay)
                continue
            outcome = "applied" if applied else "duplicate"
            MESSAGES_CONSUMED.labels(self.name, topic, envelope.type, outcome).inc()
            return

    async def _apply_once(self, envelope: Envelope, handler: Handler) -> bool:
        assert self._pool is not None, "consumer used before attach()"
        async with self._pool.acquire() as connection, connection.transaction():
            await set_tenant(connection, envelope.tenant_id)
            first_time = await connection.fetchval(
                """INSERT INTO inbox (consumer, source, event_id, event_type)
                   VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true""",
                self.name,
                envelope.source,
                envelope.id,
                envelope.type,
            )
            if not first_time:
                return False
            await handler(connection, envelope)
            return True

    async def _dead_letter(self, record: Any, reason: str, *, attempts: int, event_type: str) -> None:
        log.error(
            "event_dead_lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
        )
        assert self._producer is not None, "consumer used before attach()"
        await send_to_dead_letters(
            self._producer, record, consumer=self.name, error=reason, attempts=attempts
        )
        MESSAGES_DEAD_LETTERED.labels(self.name, record.topic, event_type).inc()
        MESSAGES_CONSUMED.labels(self.name, record.topic, event_type, "dead_lettered").inc()
