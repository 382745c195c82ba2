"""Consume refuge.cases.v1 with confluent-kafka (librdkafka): decode the CloudEvents, skip
duplicates.

    pip install confluent-kafka "cloudevents>=2.2,<3"
    python examples/consume_cases_confluent.py --bootstrap-servers 127.0.0.1:9092 --group my-crm

The same as consume_cases_aiokafka.py with another client library, synchronous.
Self-contained on purpose (an integrator copies one file); see docs/integrators.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from confluent_kafka import Consumer, KafkaError, KafkaException

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


def decode(headers: Iterable[tuple[str, bytes]] | None, key: bytes | None, value: bytes | None) -> CaseEvent:
    """A record in CloudEvents binary mode (ce_* headers, JSON value) -> the event.

    librdkafka gives headers as a list of (name, bytes) pairs, or None when there are none.
    """

    message = ce_kafka.KafkaMessage(headers=dict(headers or ()), key=key, value=value or b"")
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

    In production keep the pairs in your own database, inserted in the same transaction
    as the event's effect: memory forgets on restart.
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
    """Personal data travels sealed: AES-256-GCM ciphertext under the key of ``key_id``."""

    return isinstance(value, dict) and {"alg", "key_id", "nonce", "ciphertext"} <= value.keys()


def describe(event: CaseEvent) -> str:
    shown = {
        name: f"<sealed {value['alg']} key_id={value['key_id']}>" if is_sealed(value) else value
        for name, value in event.data.items()
    }
    return f"{event.type} case={event.subject} tenant={event.tenant_id} time={event.time} {json.dumps(shown)}"


def consumer_config(bootstrap_servers: str, group_id: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id,
        "auto.offset.reset": "earliest",  # a new group starts from the beginning of the topic
        "enable.auto.commit": False,  # at least once: commit after handling, never before
    }


def consume(
    bootstrap_servers: str,
    group_id: str,
    handle: Callable[[CaseEvent], None],
    *,
    stop: threading.Event | None = None,
    topic: str = TOPIC,
) -> None:
    """Hand every new event to ``handle``, once, and commit its offset only after."""

    stop = stop or threading.Event()
    dedup = Deduplicator()
    consumer = Consumer(consumer_config(bootstrap_servers, group_id))
    consumer.subscribe([topic])
    try:
        while not stop.is_set():
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(error)
            # A consumed record's headers are (name, bytes) pairs; the wider type is the producer's.
            headers = cast(list[tuple[str, bytes]] | None, message.headers())
            try:
                event = decode(headers, message.key(), message.value())
            except Exception as error:  # not a CloudEvent: the SDK's errors share no base
                # Stopping here would stall the partition for good: note it and move on.
                print(f"skipped {message.topic()}/{message.partition()}@{message.offset()}: {error!r}")
            else:
                if dedup.first_time(event):
                    handle(event)
            consumer.commit(message=message, asynchronous=False)
    finally:
        consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    parser.add_argument("--group", default="example-confluent", help="your consumer group id")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        consume(args.bootstrap_servers, args.group, lambda event: print(describe(event), flush=True))


if __name__ == "__main__":
    main()
