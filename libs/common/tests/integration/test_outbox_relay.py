"""The transactional outbox and its relay, against a real PostgreSQL and a real broker."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from refuge_it_support import Kafka, ServiceSchema, case_opened, create_schema, eventually, headers_of, unique

from refuge_common.contract.envelope import Envelope, KafkaRecord, from_record
from refuge_common.messaging.outbox import add_to_outbox
from refuge_common.messaging.producer import EventProducer
from refuge_common.messaging.relay import OutboxRelay

pytestmark = pytest.mark.integration


class Rollback(Exception):
    pass


class CountingProducer(EventProducer):
    """A real producer that counts its batches and can play a broker outage."""

    def __init__(self, bootstrap_servers: str) -> None:
        super().__init__(bootstrap_servers, client_id=unique("it-relay"))
        self.batches = 0
        self.failures = 0
        self.down = False

    async def send_in_order(self, records: Sequence[KafkaRecord]) -> None:
        if self.down:
            self.failures += 1
            raise KafkaConnectionError("broker unreachable (simulated)")
        await super().send_in_order(records)
        self.batches += 1


@pytest.fixture
async def schema(database_url: str, tmp_path: Path) -> AsyncIterator[ServiceSchema]:
    created = await create_schema(database_url, tmp_path / "sql", {}, prefix="outbox")
    yield created
    await created.drop()


@pytest.fixture
async def pool(schema: ServiceSchema) -> AsyncIterator[asyncpg.Pool]:
    app_pool = await schema.app_pool(size=8)
    yield app_pool
    await app_pool.close()


@pytest.fixture
async def producer(kafka_bootstrap_servers: str) -> AsyncIterator[CountingProducer]:
    started = CountingProducer(kafka_bootstrap_servers)
    await started.start()
    yield started
    await started.stop()


async def outbox_count(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox"))


async def commit_events(pool: asyncpg.Pool, events: Sequence[Envelope]) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await add_to_outbox(connection, events)


async def test_only_committed_events_leave_as_binary_cloudevents(
    kafka: Kafka, pool: asyncpg.Pool, producer: CountingProducer, schema: ServiceSchema
) -> None:
    topic = await kafka.create_topic(unique("it.outbox"), partitions=2)
    rolled_back = case_opened(topic=topic)
    kept = [case_opened(topic=topic), case_opened(topic=topic, tenant_id=uuid.uuid4())]

    with pytest.raises(Rollback):
        async with pool.acquire() as connection, connection.transaction():
            await add_to_outbox(connection, [rolled_back])
            raise Rollback
    with pytest.raises(RuntimeError, match="inside the transaction"):
        async with pool.acquire() as connection:
            await add_to_outbox(connection, [rolled_back])
    await commit_events(pool, kept)
    assert await outbox_count(pool) == 2

    relay = OutboxRelay(pool, producer, schema=schema.name, batch_size=100)
    assert await relay.publish_batch() == 2
    assert await relay.publish_batch() == 0
    assert await outbox_count(pool) == 0

    records = await kafka.read(topic, until=lambda found: len(found) >= 2)
    by_id = {headers_of(record)["ce_id"].decode(): record for record in records}
    assert sorted(by_id) == sorted(event.id for event in kept)
    for event in kept:
        record = by_id[event.id]
        headers = headers_of(record)
        assert record.key == event.subject.encode()
        assert headers["ce_specversion"] == b"1.0"
        assert headers["ce_type"] == b"org.refuge.case.opened.v1"
        assert headers["ce_source"] == event.source.encode()
        assert headers["ce_subject"] == event.subject.encode()
        assert headers["ce_tenantid"] == str(event.tenant_id).encode()
        assert "ce_time" in headers
        assert headers["content-type"] == b"application/json"
        decoded = from_record(record.headers, record.key, record.value)
        assert (decoded.id, decoded.source, decoded.tenant_id) == (event.id, event.source, event.tenant_id)
        assert decoded.data.model_dump() == event.data.model_dump()


async def test_two_relays_keep_per_key_order(
    kafka: Kafka, pool: asyncpg.Pool, schema: ServiceSchema, kafka_bootstrap_servers: str
) -> None:
    topic = await kafka.create_topic(unique("it.outbox.order"), partitions=3)
    writers, keys_per_writer, events_per_writer = 4, 2, 750
    keys = [[uuid.uuid4() for _ in range(keys_per_writer)] for _ in range(writers)]
    expected: dict[bytes, list[str]] = defaultdict(list)
    rng = random.Random(7)

    async def write(own_keys: list[uuid.UUID]) -> None:
        # One writer per key, as producers lock the aggregate they change: commit order = id order.
        written = 0
        while written < events_per_writer:
            batch = [
                case_opened(case_id=rng.choice(own_keys), topic=topic)
                for _ in range(min(rng.randint(1, 15), events_per_writer - written))
            ]
            await commit_events(pool, batch)
            for event in batch:
                expected[event.subject.encode()].append(event.id)
            written += len(batch)
            await asyncio.sleep(0)

    producers = [CountingProducer(kafka_bootstrap_servers) for _ in range(2)]
    relays = [OutboxRelay(pool, p, schema=schema.name, batch_size=40, poll_interval=0.05) for p in producers]
    for p in producers:
        await p.start()
    try:
        for relay in relays:
            relay.start()
        await asyncio.gather(*(write(own) for own in keys))
        total = writers * events_per_writer

        async def drained() -> bool:
            return await outbox_count(pool) == 0

        await eventually(drained, within=60, what="the outbox to drain")
    finally:
        for relay in relays:
            await relay.stop()
        for p in producers:
            await p.stop()

    assert all(p.batches > 0 for p in producers), "both relays should have published"
    records = await kafka.read(topic, until=lambda found: len(found) >= total, within=30)
    seen: dict[bytes, list[str]] = defaultdict(list)
    for record in records:
        seen[record.key].append(headers_of(record)["ce_id"].decode())
    assert len(records) == total
    assert seen.keys() == expected.keys()
    for key, ids in expected.items():
        assert seen[key] == ids, f"key {key!r} out of order"


async def test_notify_wakes_the_relay_long_before_its_poll_interval(
    kafka: Kafka, pool: asyncpg.Pool, producer: CountingProducer, schema: ServiceSchema
) -> None:
    topic = await kafka.create_topic(unique("it.outbox.notify"))
    first, second = case_opened(topic=topic), case_opened(topic=topic)
    await commit_events(pool, [first])
    relay = OutboxRelay(pool, producer, schema=schema.name, poll_interval=30.0)
    relay.start()
    try:
        # The first event goes out in the relay's first pass; then it waits up to 30 s.
        await kafka.read(topic, until=lambda found: len(found) >= 1, within=10)
        await commit_events(pool, [second])
        records = await kafka.read(topic, until=lambda found: len(found) >= 2, within=10)
    finally:
        await relay.stop()
    assert [headers_of(r)["ce_id"].decode() for r in records] == [first.id, second.id]


async def test_a_trickle_of_writes_leaves_in_a_few_batches_and_in_order(
    kafka: Kafka, pool: asyncpg.Pool, producer: CountingProducer, schema: ServiceSchema
) -> None:
    # One write at a time, as intake commits them: without lingering, each wakes the
    # relay for a cycle of its own.
    topic = await kafka.create_topic(unique("it.outbox.linger"))
    events = [case_opened(case_id=uuid.uuid4(), topic=topic) for _ in range(40)]
    relay = OutboxRelay(pool, producer, schema=schema.name, poll_interval=30.0, linger=0.1)
    relay.start()
    try:
        for event in events:
            await commit_events(pool, [event])
            await asyncio.sleep(0.002)
        records = await kafka.read(topic, until=lambda found: len(found) >= len(events), within=20)
    finally:
        await relay.stop()
    assert [headers_of(r)["ce_id"].decode() for r in records] == [e.id for e in events]
    assert producer.batches <= 8, f"{producer.batches} batches for {len(events)} writes"


async def test_the_first_write_after_a_quiet_spell_does_not_wait_for_the_linger(
    kafka: Kafka, pool: asyncpg.Pool, producer: CountingProducer, schema: ServiceSchema
) -> None:
    topic = await kafka.create_topic(unique("it.outbox.quiet"))
    relay = OutboxRelay(pool, producer, schema=schema.name, poll_interval=30.0, linger=60.0)
    relay.start()
    try:
        await asyncio.sleep(0.2)  # the relay has found the outbox empty and waits for a NOTIFY
        event = case_opened(topic=topic)
        await commit_events(pool, [event])
        records = await kafka.read(topic, until=lambda found: len(found) >= 1, within=20)
    finally:
        await relay.stop()
    assert [headers_of(r)["ce_id"].decode() for r in records] == [event.id]


async def test_rows_stay_in_the_outbox_while_the_broker_is_unreachable(
    kafka: Kafka, pool: asyncpg.Pool, producer: CountingProducer, schema: ServiceSchema
) -> None:
    topic = await kafka.create_topic(unique("it.outbox.down"))
    events = [case_opened(case_id=uuid.uuid4(), topic=topic) for _ in range(3)]
    await commit_events(pool, events)
    producer.down = True
    relay = OutboxRelay(pool, producer, schema=schema.name, poll_interval=0.05)

    with pytest.raises(KafkaConnectionError):
        await relay.publish_batch()
    assert await outbox_count(pool) == 3

    relay.start()
    try:

        async def failed_again() -> bool:
            return producer.failures >= 3

        await eventually(failed_again, within=10, what="the relay to retry")
        assert await outbox_count(pool) == 3
        producer.down = False

        async def drained() -> bool:
            return await outbox_count(pool) == 0

        await eventually(drained, within=10, what="the outbox to drain after the outage")
    finally:
        await relay.stop()
    records = await kafka.read(topic, until=lambda found: len(found) >= 3)
    assert [headers_of(r)["ce_id"].decode() for r in records] == [e.id for e in events]


class FlakyPool:
    """The relay's pool, whose next ``fetchrow`` fails as a dropped connection would."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.fail_next_fetchrow = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    async def fetchrow(self, *args: Any) -> Any:
        if self.fail_next_fetchrow:
            self.fail_next_fetchrow = False
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        return await self._pool.fetchrow(*args)


async def test_the_relay_survives_a_database_error_between_batches(
    kafka: Kafka, pool: asyncpg.Pool, producer: CountingProducer, schema: ServiceSchema
) -> None:
    topic = await kafka.create_topic(unique("it.outbox.dberror"))
    flaky = FlakyPool(pool)
    relay = OutboxRelay(flaky, producer, schema=schema.name, poll_interval=0.05)  # type: ignore[arg-type]
    first, second = case_opened(topic=topic), case_opened(topic=topic)
    flaky.fail_next_fetchrow = True  # the backlog query after the first batch fails
    await commit_events(pool, [first])
    relay.start()
    try:
        await kafka.read(topic, until=lambda found: len(found) >= 1, within=10)
        await commit_events(pool, [second])
        records = await kafka.read(topic, until=lambda found: len(found) >= 2, within=10)
    finally:
        await relay.stop()
    assert [headers_of(r)["ce_id"].decode() for r in records] == [first.id, second.id]


class SlowListen(asyncpg.Connection):
    """A connection whose LISTEN takes a while, as over a slow network."""

    entered: ClassVar[asyncio.Event]

    async def add_listener(self, channel: str, callback: Any) -> None:
        SlowListen.entered.set()
        await asyncio.sleep(0.5)
        await super().add_listener(channel, callback)


async def test_a_relay_stopped_as_it_starts_gives_its_connection_back(
    producer: CountingProducer, schema: ServiceSchema
) -> None:
    SlowListen.entered = asyncio.Event()
    pool = await asyncpg.create_pool(
        schema.app_dsn,
        min_size=1,
        max_size=2,
        connection_class=SlowListen,
        server_settings={"search_path": f"{schema.name}, public"},
    )
    relay = OutboxRelay(pool, producer, schema=schema.name)
    relay.start()
    await asyncio.wait_for(SlowListen.entered.wait(), timeout=5)
    await relay.stop()  # a shutdown right after start-up
    try:
        await asyncio.wait_for(pool.close(), timeout=5)  # what ServiceRuntime.stop() does next
    except TimeoutError:
        pool.terminate()
        pytest.fail("the relay kept its LISTEN connection: pool.close() would wait forever")
