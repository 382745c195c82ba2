"""Helpers shared by the libs/common integration tests (imported through conftest's sys.path)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from refuge_common.contract import topics
from refuge_common.contract.cases import CaseOpened
from refuge_common.contract.envelope import Envelope, KafkaRecord, new_event, to_record
from refuge_common.db.migrations import KeyringAccess, SchemaSpec, app_dsn, migrate
from refuge_common.db.pool import create_pool
from refuge_common.messaging.deadletter import parse_dead_letter

T = TypeVar("T")
SOURCE = "/refuge/integration-tests"

# A tenant table with the policy every service uses (DESIGN.md, "Tenancy and security").
TENANT_TABLE_SQL = """
CREATE TABLE {table} (
    id        bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL,
    label     text NOT NULL
);
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
    USING (tenant_id = nullif(current_setting('refuge.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('refuge.tenant_id', true), '')::uuid);
"""


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def eventually(check: Callable[[], Awaitable[T | None]], *, within: float, what: str) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``within`` seconds."""

    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


@functools.cache
def _case_opened_on(topic: str) -> type[CaseOpened]:
    # The same event type (org.refuge.case.opened.v1), routed to a test topic.
    return type(f"CaseOpenedOn_{abs(hash(topic))}", (CaseOpened,), {"TOPIC": topic, "__module__": __name__})


def case_opened(
    case_id: UUID | None = None,
    tenant_id: UUID | None = None,
    *,
    topic: str | None = None,
    source: str = SOURCE,
) -> Envelope:
    """A ``case.opened`` event; with ``topic``, one that ``to_record`` sends there."""

    tenant = tenant_id or uuid.uuid4()
    model = _case_opened_on(topic) if topic else CaseOpened
    data = model(
        case_id=case_id or uuid.uuid4(),
        organisation_id=tenant,
        office_id=uuid.uuid4(),
        case_type="asylum",  # type: ignore[arg-type]
        jurisdiction="FR",
        channel="phone",  # type: ignore[arg-type]
        opened_at=datetime.now(UTC),
    )
    return new_event(source, data, tenant)


def record_on(envelope: Envelope, topic: str) -> KafkaRecord:
    """The Kafka record of ``envelope``, sent to a test topic instead of its contract topic."""

    return dataclasses.replace(to_record(envelope), topic=topic)


def headers_of(record: ConsumerRecord[Any, Any]) -> dict[str, bytes]:
    return {name: bytes(value) for name, value in (record.headers or ())}


class Kafka:
    """Plain aiokafka access to the test broker: create topics, produce, read back."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers

    async def create_topic(self, name: str, partitions: int = 1) -> str:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        finally:
            await admin.close()
        return name

    async def produce(self, records: Sequence[KafkaRecord]) -> list[tuple[int, int]]:
        """Send records in order; return the (partition, offset) of each."""

        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all")
        await producer.start()
        try:
            placed = []
            for record in records:
                metadata = await producer.send_and_wait(
                    record.topic, record.value, key=record.key, headers=record.headers
                )
                placed.append((metadata.partition, metadata.offset))
            return placed
        finally:
            await producer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer, topic: str, within: float) -> list[int]:
        async def known() -> set[int] | None:
            await consumer.topics()  # refreshes the metadata of every topic
            return consumer.partitions_for_topic(topic)

        return sorted(await eventually(known, within=within, what=f"topic {topic}"))

    async def read(
        self,
        topic: str,
        *,
        until: Callable[[list[ConsumerRecord[Any, Any]]], bool],
        within: float = 20.0,
    ) -> list[ConsumerRecord[Any, Any]]:
        """Read ``topic`` from the beginning (no group) until ``until(records)`` or the deadline."""

        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False)
        await consumer.start()
        records: list[ConsumerRecord[Any, Any]] = []
        try:
            partitions = await self._partitions(consumer, topic, within)
            consumer.assign([TopicPartition(topic, p) for p in partitions])
            await consumer.seek_to_beginning()
            deadline = time.monotonic() + within
            while not until(records) and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200)
                for partition_records in batch.values():
                    records.extend(partition_records)
        finally:
            await consumer.stop()
        return records

    async def dead_letters(self, consumer: str, offsets: set[int]) -> dict[int, ConsumerRecord[Any, Any]]:
        """The dead letters of ``consumer`` for these origin offsets, read once they are all there."""

        def ours(records: list[ConsumerRecord[Any, Any]]) -> dict[int, ConsumerRecord[Any, Any]]:
            found = {}
            for record in records:
                letter = parse_dead_letter(record)
                if letter.consumer == consumer and letter.origin_offset in offsets:
                    found[letter.origin_offset] = record
            return found

        records = await self.read(topics.DEADLETTER, until=lambda rs: ours(rs).keys() == offsets, within=30)
        return ours(records)

    async def committed(self, group: str, topic: str, partition: int = 0) -> int | None:
        """The offset ``group`` committed on one partition (OffsetFetch, no group join)."""

        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            return await consumer.committed(tp)
        finally:
            await consumer.stop()


@dataclasses.dataclass
class ServiceSchema:
    """A service-like schema migrated from the given SQL files, with its own login role."""

    admin_dsn: str
    spec: SchemaSpec

    @property
    def name(self) -> str:
        return self.spec.schema

    @property
    def app_dsn(self) -> str:
        return app_dsn(self.admin_dsn, self.spec)

    async def app_pool(self, size: int = 4) -> asyncpg.Pool:
        return await create_pool(self.app_dsn, size=size, schema=self.spec.schema)

    async def admin(self) -> asyncpg.Connection:
        connection = await asyncpg.connect(self.admin_dsn)
        await connection.execute(f'SET search_path TO "{self.spec.schema}", public')
        return connection

    async def drop(self) -> None:
        """Drop the schema and its role (roles are cluster-wide; leave none behind)."""

        connection = await asyncpg.connect(self.admin_dsn)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{self.spec.schema}" CASCADE')
            await connection.execute(f'DROP OWNED BY "{self.spec.role}"')
            await connection.execute(f'DROP ROLE IF EXISTS "{self.spec.role}"')
        finally:
            await connection.close()


async def create_schema(
    admin_dsn: str,
    directory: Path,
    files: dict[str, str],
    *,
    keyring: KeyringAccess = "none",
    prefix: str = "it",
) -> ServiceSchema:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    spec = SchemaSpec(
        schema=unique(prefix), role=unique(f"refuge_{prefix}"), migrations=directory, keyring=keyring
    )
    await migrate(admin_dsn, spec)
    return ServiceSchema(admin_dsn, spec)
