"""Consume refuge.cases.v1 with aiokafka: decode the CloudEvents, skip duplicates.

    pip install aiokafka "cloudevents>=2.2,<3"
    python examples/consume_cases_aiokafka.py --bootstrap-servers 127.0.0.1:9092 --group my-crm

Prints one line per new event: type, subject (the case id), tenant, time and the data,
with sealed personal data shown as what it is: ciphertext and the id of its key.
Self-contained on purpose (an integrator copies one file); see docs/integrators.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

TOPIC = "refuge.cases.v1"


@dataclass(frozen=True)
class CaseEvent:
    source: str
    id: str
    type: str
    subject: str  # the case id; also the record key
    tenant_id: str | None  # the organisation, from the CloudEvents extension "tenantid"
    time: datetime | None
    data: dict[str, Any]

    @property
    def identity(self) -> tuple[str, str]:
        """What identifies an event: deduplicate on it."""

        return self.source, self.id


def decode(headers: Iterable[tuple[str, bytes]], key: bytes | None, value: bytes | None) -> CaseEvent:
    """A record in CloudEvents binary mode (ce_* headers, JSON value) -> the event."""

    message = ce_kafka.KafkaMessage(headers=dict(headers), key=key, value=value or b"")
    event = ce_kafka.from_binary(message, JSONFormat(), CloudEvent)
    tenant = event.get_extension("tenantid")
    data = event.get_data()
    return CaseEvent(
        source=event.get_source(),
        id=event.get_id(),
        type=event.get_type(),
        subject=str(event.get_subject()),
        tenant_id=str(tenant) if tenant is not None else None,
        time=event.get_time(),
        data=data if isinstance(data, dict) else {},
    )


class Deduplicator:
    """Remembers the last ``capacity`` (source, id) pairs seen.

    Delivery is at least once: a relay retry or a consumer restart before its commit
    delivers an event again. In production keep the pairs in your own database and
    insert the pair in the same transaction as the event's effect (a unique key makes
    the second insert fail): memory forgets on restart.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._capacity = capacity

    def first_time(self, event: CaseEvent) -> bool:
        if event.identity in self._seen:
            return False
        self._seen[event.identity] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True


def is_sealed(value: Any) -> bool:
    """Personal data travels sealed: AES-256-GCM ciphertext under the key of ``key_id``
    (a person or a staff member). Only Refuge's services can open it; once the person is
    erased nobody can."""

    return isinstance(value, dict) and {"alg", "key_id", "nonce", "ciphertext"} <= value.keys()


def describe(event: CaseEvent) -> str:
    shown = {
        name: f"<sealed {value['alg']} key_id={value['key_id']}>" if is_sealed(value) else value
        for name, value in event.data.items()
    }
    return f"{event.type} case={event.subject} tenant={event.tenant_id} time={event.time} {json.dumps(shown)}"


async def consume(
    bootstrap_servers: str,
    group_id: str,
    handle: Callable[[CaseEvent], Awaitable[None]],
    *,
    stop: asyncio.Event | None = None,
    topic: str = TOPIC,
) -> None:
    """Hand every new event to ``handle``, once, and commit its offset only after."""

    stop = stop or asyncio.Event()
    dedup = Deduplicator()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        auto_offset_reset="earliest",  # a new group starts from the beginning of the topic
        enable_auto_commit=False,  # at least once: commit after handling, never before
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            for partition, records in batches.items():
                for record in records:
                    try:
                        event = decode(record.headers, record.key, record.value)
                    except Exception as error:  # not a CloudEvent: the SDK's errors share no base
                        # Stopping here would stall the partition for good: note it and move on.
                        print(f"skipped {partition.topic}/{partition.partition}@{record.offset}: {error!r}")
                    else:
                        if dedup.first_time(event):
                            await handle(event)
                    await consumer.commit(
                        {TopicPartition(partition.topic, partition.partition): record.offset + 1}
                    )
    finally:
        await consumer.stop()


async def _print(event: CaseEvent) -> None:
    print(describe(event), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    parser.add_argument("--group", default="example-aiokafka", help="your consumer group id")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(consume(args.bootstrap_servers, args.group, _print))


if __name__ == "__main__":
    main()
