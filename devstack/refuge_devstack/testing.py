"""Helpers the services' integration tests share: read a tenant's events, wait for a state,
make a case.opened."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

from aiokafka import AIOKafkaConsumer

from refuge_common.contract.cases import CaseOpened

T = TypeVar("T")


async def tenant_events(
    bootstrap_servers: str, topic: str, tenant: UUID, *, idle_ms: int = 700
) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of every event of ``tenant`` on ``topic`` so far, in order; the name
    is the type's event part (``computed`` for ``org.refuge.deadline.computed.v1``)."""

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found: list[tuple[str, dict[str, Any]]] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=idle_ms)
            if not batch:
                return found
            for records in batch.values():
                for record in records:
                    headers = dict(record.headers)
                    if headers.get("ce_tenantid") == str(tenant).encode():
                        name = headers["ce_type"].decode().split(".")[3]
                        found.append((name, json.loads(record.value)))
    finally:
        await consumer.stop()


async def eventually(probe: Callable[[], Awaitable[T]], within: float = 30.0) -> T:
    """The first truthy value of ``probe``, polled every 0.1 s; fails after ``within`` s."""

    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value or time.monotonic() > deadline:
            assert value, "timed out"
            return value
        await asyncio.sleep(0.1)


def case_opened(org: UUID, office: UUID | None = None) -> CaseOpened:
    """A removal appeal opened now in person, for ``org`` (and ``office``, else a new one)."""

    return CaseOpened(
        case_id=uuid.uuid4(),
        organisation_id=org,
        office_id=office or uuid.uuid4(),
        case_type="removal_appeal",
        jurisdiction="FR",
        channel="in_person",
        opened_at=datetime.now(UTC),
    )
