"""Kafka → handler: events applied per second by an ``EventConsumer``, beside raw reads.

20,000 ``case.opened`` events are published to a fresh topic (4 partitions). Then, in
one run, on the same topic: a bare aiokafka consumer reads them; reads and decodes
them (``from_record``); reads them and calls ``EventConsumer.process`` directly (the
inbox transaction and the handler, no FastStream); and last the production path, an
``EventConsumer`` subscribed on a FastStream ``KafkaBroker`` (consumer group,
``NACK_ON_ERROR``, max_workers=1 as every service subscribes today). The handler
inserts one row into an RLS-protected table.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker

from bench.common import BENCH_SCHEMA, Row, bench_database, case_opened_events, rate, tansu_broker
from refuge_common.contract.cases import CaseOpened
from refuge_common.contract.envelope import Envelope, from_record, to_record
from refuge_common.db.pool import Connection, create_pool
from refuge_common.messaging.consumer import EventConsumer, Handler
from refuge_common.messaging.producer import EventProducer

NAME = "consumer_apply"
TOPIC = "bench.consume.v1"


def insert_one_row(consumer: str) -> Handler:
    """The trivial handler: one row, in the consumer's tenant-scoped transaction."""

    async def handle(connection: Connection, envelope: Envelope) -> None:
        data = envelope.data
        assert isinstance(data, CaseOpened)
        await connection.execute(
            "INSERT INTO applied (consumer, event_id, tenant_id, case_id) VALUES ($1, $2, $3, $4)",
            consumer,
            envelope.id,
            envelope.tenant_id,
            data.case_id,
        )

    return handle


class TimedConsumer(EventConsumer):
    """The production consumer, stamping each event once its transaction committed."""

    def __init__(self, name: str, expected: int) -> None:
        super().__init__(name)
        self.expected = expected
        self.stamps: list[float] = []
        self.in_process = 0.0  # seconds spent inside EventConsumer.process
        self.done = asyncio.Event()

    async def process(self, record: Any) -> None:
        started = time.perf_counter()
        await super().process(record)
        self.stamps.append(time.perf_counter())
        self.in_process += self.stamps[-1] - started
        if len(self.stamps) >= self.expected:
            self.done.set()


async def _publish(bootstrap: str, count: int) -> None:
    producer = EventProducer(bootstrap, "bench-seed")
    await producer.start()
    try:
        records = [to_record(e) for e in case_opened_events(count)]
        records = [dataclasses.replace(r, topic=TOPIC) for r in records]
        for i in range(0, count, 1000):
            await producer.send_in_order(records[i : i + 1000])
    finally:
        await producer.stop()


async def _raw_pass(bootstrap: str, count: int, per_record: Callable[[Any], Awaitable[None]] | None) -> float:
    """Read the topic from the start without a group: events/s from the first fetch to the last record."""

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()
        consumer.assign([TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC) or []])
        seen = 0
        started = time.perf_counter()
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    if per_record is not None:
                        await per_record(record)
                    seen += 1
        return rate(seen, time.perf_counter() - started)
    finally:
        await consumer.stop()


async def _faststream_pass(
    bootstrap: str, pool: Any, producer: EventProducer, count: int
) -> tuple[float, float, float]:
    """(applied events/s, seconds from broker start to the first applied event,
    share of the time per event spent inside EventConsumer.process)."""

    consumer = TimedConsumer("bench.faststream", count)
    consumer.on(CaseOpened)(insert_one_row(consumer.name))
    consumer.attach(pool, producer)
    broker = KafkaBroker(bootstrap, client_id="bench-consumer", logger=None)
    consumer.subscribe(broker, TOPIC, max_workers=1)
    started = time.perf_counter()
    await broker.start()
    try:
        await asyncio.wait_for(consumer.done.wait(), timeout=600)
    finally:
        await broker.stop()
    stamps = consumer.stamps
    share = consumer.in_process / (stamps[-1] - stamps[0])
    return rate(len(stamps) - 1, stamps[-1] - stamps[0]), stamps[0] - started, share


async def _main(count: int) -> list[Row]:
    rows: list[Row] = []
    note = f"{count} events"
    async with bench_database() as (_owner_url, app_url):
        with tansu_broker() as bootstrap:
            await _publish(bootstrap, count)
            pool = await create_pool(app_url, size=10, schema=BENCH_SCHEMA.schema)
            producer = EventProducer(bootstrap, "bench-consumer")
            await producer.start()
            try:
                rows.append(
                    Row(
                        NAME,
                        "raw aiokafka read",
                        await _raw_pass(bootstrap, count, None),
                        "events/s",
                        f"{note}; no group, no commit; from 1st fetch",
                    )
                )

                async def decode(record: Any) -> None:
                    from_record(record.headers, record.key, record.value)

                rows.append(
                    Row(
                        NAME,
                        "raw read + from_record decode",
                        await _raw_pass(bootstrap, count, decode),
                        "events/s",
                        "CloudEvents SDK + pydantic validation",
                    )
                )
                direct = EventConsumer("bench.direct")
                direct.on(CaseOpened)(insert_one_row(direct.name))
                direct.attach(pool, producer)
                rows.append(
                    Row(
                        NAME,
                        "raw read + EventConsumer.process",
                        await _raw_pass(bootstrap, count, direct.process),
                        "events/s",
                        "inbox + handler transaction, no FastStream, no commit",
                    )
                )
                applied, first_after, share = await _faststream_pass(bootstrap, pool, producer, count)
                rows.append(
                    Row(
                        NAME,
                        "EventConsumer on FastStream (applied)",
                        applied,
                        "events/s",
                        f"{note}; from 1st applied to last (group join excluded)",
                    )
                )
                per_event = 1e6 / applied
                rows.append(
                    Row(
                        NAME,
                        "  per event: inside EventConsumer.process",
                        per_event * share,
                        "µs",
                        "decode + inbox/handler transaction",
                    )
                )
                rows.append(
                    Row(
                        NAME,
                        "  per event: FastStream, fetch, offset commit",
                        per_event * (1 - share),
                        "µs",
                        "the rest: DI, middlewares, a worker-thread hop, one OffsetCommit per event",
                    )
                )
                rows.append(
                    Row(
                        NAME,
                        "  broker start → first event applied",
                        first_after * 1000,
                        "ms",
                        "group join + first fetch (excluded above)",
                    )
                )
                applied_rows = await pool.fetchval("SELECT count(*) FROM inbox")
                assert applied_rows == 2 * count, f"inbox holds {applied_rows}, expected {2 * count}"
            finally:
                await producer.stop()
                await pool.close()
    return rows


def run(scale: float = 1.0) -> list[Row]:
    return asyncio.run(_main(max(1_000, int(20_000 * scale))))
