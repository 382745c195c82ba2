"""The one Kafka producer of a service: acks from all in-sync replicas, in order.

aiokafka keeps one request in flight per broker and mutes a partition while its
batch is in flight, so records sent in order on one key arrive in order. The
idempotent producer is off because the embedded Tansu broker lacks InitProducerId;
duplicates from a retried send are absorbed by consumers' inboxes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from refuge_common.contract.envelope import KafkaRecord
from refuge_common.observability.metrics import MESSAGES_PUBLISHED


class EventProducer:
    def __init__(self, bootstrap_servers: str, client_id: str) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # aiokafka binds to the running loop, so the client is made here, not in __init__.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=False,
            linger_ms=2,
            max_batch_size=256 * 1024,
            request_timeout_ms=15_000,
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    @property
    def _client(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("producer not started")
        return self._producer

    async def send_in_order(self, records: Sequence[KafkaRecord]) -> None:
        """Send records in the given order and return once every one is acknowledged."""

        futures = []
        for record in records:
            futures.append(
                await self._client.send(record.topic, record.value, key=record.key, headers=record.headers)
            )
        await asyncio.gather(*futures)
        for record in records:
            MESSAGES_PUBLISHED.labels(topic=record.topic).inc()

    async def ping(self) -> bool:
        """True when a broker answers a metadata request."""

        try:
            await asyncio.wait_for(self._client.client.fetch_all_metadata(), timeout=3)
        except Exception:
            return False
        return True
