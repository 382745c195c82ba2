"""EventConsumer on FastStream against a real broker and PostgreSQL: once, retried, dead-lettered."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from faststream.kafka import KafkaBroker
from refuge_it_support import (
    TENANT_TABLE_SQL,
    Kafka,
    ServiceSchema,
    case_opened,
    create_schema,
    eventually,
    headers_of,
    record_on,
    unique,
)

from refuge_common.contract.cases import CaseOpened
from refuge_common.contract.envelope import Envelope, KafkaRecord
from refuge_common.db.pool import Connection
from refuge_common.messaging.consumer import EventConsumer
from refuge_common.messaging.deadletter import parse_dead_letter
from refuge_common.messaging.producer import EventProducer
from refuge_common.messaging.retry import RetryPolicy

pytestmark = pytest.mark.integration

RETRY = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.05)
APPLIED_SQL = TENANT_TABLE_SQL.format(table="applied")  # label = the event id
Behaviour = Callable[[int], Awaitable[None]]


class QuickGroupBroker(KafkaBroker):
    """Group timeouts short enough for tests: Tansu makes a rejoining group wait them out."""

    def subscriber(self, *topic_names: Any, **options: Any) -> Any:
        options.setdefault("session_timeout_ms", 3000)
        options.setdefault("heartbeat_interval_ms", 500)
        return super().subscriber(*topic_names, **options)


class RecordingConsumer(EventConsumer):
    """An EventConsumer that notes the offset of every record it is handed."""

    def __init__(self, name: str) -> None:
        super().__init__(name, retry=RETRY)
        self.offsets: list[int] = []

    async def process(self, record: Any) -> None:
        self.offsets.append(record.offset)
        await super().process(record)


class FlakyProducer(EventProducer):
    """The service's producer; ``failures`` sends fail first (the dead-letter topic unreachable)."""

    failures = 0

    async def send_in_order(self, records: Sequence[KafkaRecord]) -> None:
        if self.failures:
            self.failures -= 1
            raise KafkaConnectionError("broker unreachable (simulated)")
        await super().send_in_order(records)


@dataclass
class Service:
    """One consuming service: schema, pool, producer, and what its handler saw."""

    schema: ServiceSchema
    pool: asyncpg.Pool
    producer: FlakyProducer
    bootstrap: str
    behaviours: dict[str, Behaviour] = field(default_factory=dict)  # by event id
    attempts: Counter[str] = field(default_factory=Counter)

    async def apply(self, connection: Connection, envelope: Envelope) -> None:
        self.attempts[envelope.id] += 1
        await connection.execute(
            "INSERT INTO applied (tenant_id, label) VALUES ($1, $2)", envelope.tenant_id, envelope.id
        )
        behaviour = self.behaviours.get(envelope.id)
        if behaviour is not None:
            await behaviour(self.attempts[envelope.id])

    async def start(self, group: str, topic: str) -> tuple[KafkaBroker, RecordingConsumer]:
        broker = QuickGroupBroker(self.bootstrap, logger=None, graceful_timeout=1.0)
        consumer = RecordingConsumer(group)
        consumer.on(CaseOpened)(self.apply)
        consumer.attach(self.pool, self.producer)
        consumer.subscribe(broker, topic)
        await broker.start()
        return broker, consumer

    async def applied(self, event_id: str) -> int:
        admin = await self.schema.admin()
        try:
            return int(await admin.fetchval("SELECT count(*) FROM applied WHERE label = $1", event_id))
        finally:
            await admin.close()

    async def in_inbox(self, event: Envelope) -> int:
        admin = await self.schema.admin()
        try:
            query = "SELECT count(*) FROM inbox WHERE source = $1 AND event_id = $2"
            return int(await admin.fetchval(query, event.source, event.id))
        finally:
            await admin.close()

    async def wait_applied(self, event: Envelope) -> None:
        async def done() -> bool:
            return await self.applied(event.id) > 0

        await eventually(done, within=30, what=f"event {event.id} to be applied")


@dataclass
class Running:
    service: Service
    consumer: RecordingConsumer
    topic: str


@pytest.fixture(scope="module")
async def service(
    database_url: str, kafka_bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Service]:
    schema = await create_schema(
        database_url, tmp_path_factory.mktemp("consumer"), {"0001_applied.sql": APPLIED_SQL}, prefix="cons"
    )
    pool = await schema.app_pool()
    producer = FlakyProducer(kafka_bootstrap_servers, unique("it-consumer"))
    await producer.start()
    yield Service(schema, pool, producer, kafka_bootstrap_servers)
    await producer.stop()
    await pool.close()
    await schema.drop()


@pytest.fixture(scope="module")
async def running(service: Service, kafka: Kafka) -> AsyncIterator[Running]:
    topic = await kafka.create_topic(unique("it.consumer"), partitions=1)
    broker, consumer = await service.start(unique("it-group"), topic)
    yield Running(service, consumer, topic)
    await broker.stop()


async def test_the_same_event_twice_is_applied_once(running: Running, kafka: Kafka) -> None:
    event = case_opened()
    same_id_other_source = replace(event, source="/refuge/elsewhere")
    records = [record_on(event, running.topic)] * 2 + [record_on(same_id_other_source, running.topic)]
    placed = await kafka.produce(records)

    await running.service.wait_applied(event)

    async def all_consumed() -> bool:
        return all(offset in running.consumer.offsets for _, offset in placed)

    await eventually(all_consumed, within=30, what="all three records to be consumed")
    assert await running.service.applied(event.id) == 2  # once per source + id
    assert await running.service.in_inbox(event) == 1
    assert running.service.attempts[event.id] == 2


async def test_a_transient_failure_is_retried_and_applied_once(running: Running, kafka: Kafka) -> None:
    event = case_opened()

    async def fail_twice(attempt: int) -> None:
        if attempt <= 2:
            raise ConnectionResetError("database went away (simulated)")

    running.service.behaviours[event.id] = fail_twice
    [(_, offset)] = await kafka.produce([record_on(event, running.topic)])
    await running.service.wait_applied(event)
    assert running.service.attempts[event.id] == 3
    assert await running.service.applied(event.id) == 1
    assert await running.service.in_inbox(event) == 1
    assert running.consumer.offsets.count(offset) == 1  # retried in place, not redelivered


async def test_a_failing_event_is_dead_lettered_and_the_next_one_applied(
    running: Running, kafka: Kafka
) -> None:
    case_id = uuid.uuid4()
    bad, good = case_opened(case_id), case_opened(case_id)  # same key, same partition

    async def always_fail(_attempt: int) -> None:
        raise RuntimeError("handler bug")  # after the effect was written

    running.service.behaviours[bad.id] = always_fail
    bad_record = record_on(bad, running.topic)
    (_, bad_offset), _ = await kafka.produce([bad_record, record_on(good, running.topic)])

    await running.service.wait_applied(good)
    letter_record = (await kafka.dead_letters(running.consumer.name, {bad_offset}))[bad_offset]
    headers = headers_of(letter_record)
    assert headers["refuge_dlq_topic"] == running.topic.encode()
    assert headers["refuge_dlq_partition"] == b"0"
    assert headers["refuge_dlq_offset"] == str(bad_offset).encode()
    assert headers["refuge_dlq_consumer"] == running.consumer.name.encode()
    # The kind of failure and where it happened; never the message, which may hold values.
    assert headers["refuge_dlq_error"].startswith(b"failed: RuntimeError at test_consumer.py:")
    assert b"handler bug" not in headers["refuge_dlq_error"]
    assert headers["refuge_dlq_attempts"] == b"3"
    letter = parse_dead_letter(letter_record)
    assert (letter.key, letter.value) == (bad_record.key, bad_record.value)
    assert letter.headers == bad_record.headers
    # The effect and the inbox row live in one transaction: neither survived the failures.
    assert running.service.attempts[bad.id] == 3
    assert await running.service.applied(bad.id) == 0
    assert await running.service.in_inbox(bad) == 0

    # Replayed once fixed, the dead letter is the same event and is applied.
    del running.service.behaviours[bad.id]
    await kafka.produce([KafkaRecord(running.topic, letter.key or b"", letter.value or b"", letter.headers)])
    await running.service.wait_applied(bad)
    assert await running.service.in_inbox(bad) == 1


async def test_a_record_whose_dead_letter_write_fails_is_not_lost(running: Running, kafka: Kafka) -> None:
    poison, after = case_opened(), case_opened()

    async def always_fail(_attempt: int) -> None:
        raise RuntimeError("handler bug")

    running.service.behaviours[poison.id] = always_fail
    running.service.producer.failures = 1  # the first dead-letter write fails
    (_, offset), _ = await kafka.produce([record_on(poison, running.topic), record_on(after, running.topic)])

    await running.service.wait_applied(after)
    letters = await kafka.dead_letters(running.consumer.name, {offset})
    assert headers_of(letters[offset])["refuge_dlq_attempts"] == b"3"
    assert running.consumer.offsets.count(offset) == 2  # not committed: delivered again
    assert running.service.attempts[poison.id] == 6


async def test_malformed_records_are_dead_lettered_at_once(running: Running, kafka: Kafka) -> None:
    valid = record_on(case_opened(), running.topic)
    no_ce_headers = replace(valid, headers=[("content-type", b"application/json")])
    bad_json = replace(valid, value=b'{"case_id": "Jean Dupont", ')
    fields = valid.value.replace(b'"asylum"', b'"Jean Dupont"').replace(b'"FR"', b'"Rue des Lilas 12"')
    invalid_data = replace(valid, value=fields)
    # A header that is not UTF-8 must not stall the partition (FastStream's own parser
    # would raise on it before any handler runs).
    not_utf8 = replace(valid, headers=[(n, b"\xff\xfe" if n == "ce_source" else v) for n, v in valid.headers])
    good = case_opened()
    placed = await kafka.produce(
        [no_ce_headers, bad_json, invalid_data, not_utf8, record_on(good, running.topic)]
    )
    offsets = [offset for _, offset in placed[:4]]

    await running.service.wait_applied(good)
    letters = await kafka.dead_letters(running.consumer.name, set(offsets))
    reasons = [headers_of(letters[o])["refuge_dlq_error"].decode() for o in offsets]
    assert all(reason.startswith("malformed: ") for reason in reasons), reasons
    assert "no ce_type header" in reasons[0]
    assert "not a JSON object" in reasons[1]
    assert "case_type" in reasons[2] and "jurisdiction" in reasons[2]
    for reason in reasons:
        assert "Jean" not in reason and "Dupont" not in reason and "Lilas" not in reason
    assert "undecodable" in reasons[3]
    assert [headers_of(letters[o])["refuge_dlq_attempts"] for o in offsets] == [b"1"] * 4
    assert [letters[o].value for o in offsets] == [
        no_ce_headers.value,
        bad_json.value,
        invalid_data.value,
        not_utf8.value,
    ]
    assert headers_of(letters[offsets[3]])["ce_source"] == b"\xff\xfe"  # kept byte for byte


async def test_offsets_are_committed_only_after_the_transaction(service: Service, kafka: Kafka) -> None:
    topic = await kafka.create_topic(unique("it.consumer.commit"), partitions=1)
    group = unique("it-commit")
    applied, interrupted = case_opened(), case_opened()
    handler_started = asyncio.Event()

    async def hang(_attempt: int) -> None:
        handler_started.set()
        await asyncio.Event().wait()  # the process dies here, after writing, before committing

    service.behaviours[interrupted.id] = hang
    broker, _ = await service.start(group, topic)
    try:
        [(_, first)] = await kafka.produce([record_on(applied, topic)])
        await service.wait_applied(applied)

        async def committed_past_first() -> bool:
            return await kafka.committed(group, topic) == first + 1

        await eventually(committed_past_first, within=10, what="the offset commit")
        [(_, second)] = await kafka.produce([record_on(interrupted, topic)])
        await asyncio.wait_for(handler_started.wait(), timeout=30)
        assert await kafka.committed(group, topic) == first + 1
    finally:
        await broker.stop()  # cancels the hanging handler: its transaction rolls back
    assert await service.applied(interrupted.id) == 0
    assert await kafka.committed(group, topic) == first + 1

    del service.behaviours[interrupted.id]
    broker, restarted = await service.start(group, topic)  # the same group, as after a crash
    try:
        await service.wait_applied(interrupted)

        async def committed_past_second() -> bool:
            return await kafka.committed(group, topic) == second + 1

        await eventually(committed_past_second, within=10, what="the offset commit")
    finally:
        await broker.stop()
    assert restarted.offsets == [second]  # the applied event was not redelivered, the other was
    assert await service.applied(applied.id) == 1
    assert await service.applied(interrupted.id) == 1
