"""A batch the database refuses is retried, then applied event by event: the event that
fails is dead-lettered, and every other event of the batch is applied and counted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY
from replicas_support import cases_of, dead_letters, migrated_settings, opened

from refuge_common.contract.directory import OrganisationRegistered
from refuge_common.contract.envelope import Envelope, to_record
from refuge_common.messaging.producer import EventProducer
from refuge_common.messaging.retry import RetryPolicy
from refuge_devstack.pytest_plugin import throwaway_database
from refuge_devstack.tokens import LocalIssuer
from refuge_reporting.adapters.event_source import Position
from refuge_reporting.adapters.fact_store import FactStore
from refuge_reporting.service_layer.projector import CONSUMER_NAME, Projector

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class _Record:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


class _OneFetch:
    """An event source whose first fetch returns every record at once: one batch, for sure
    (the broker may hand records over in any grouping)."""

    def __init__(self, envelopes: list[Envelope]) -> None:
        self._records: list[_Record] = []
        for record in map(to_record, envelopes):
            offset = sum(1 for r in self._records if r.topic == record.topic)
            self._records.append(
                _Record(record.topic, 0, offset, record.key, record.value, list(record.headers))
            )
        self._fetched = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def follow(self, positions: Mapping[Position, int]) -> None:
        return None

    async def fetch(self, *, max_records: int, timeout_ms: int) -> list[Any]:
        assert max_records >= len(self._records)
        if self._fetched:
            await asyncio.sleep(timeout_ms / 1000)
            return []
        self._fetched = True
        return list(self._records)

    def ends(self) -> dict[Position, int | None]:
        return {(r.topic, r.partition): r.offset + 1 for r in self._records}


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with throwaway_database("refuge_reporting") as url:
        yield url


def _applied(topic: str, event_type: str) -> float:
    labels = {"consumer": CONSUMER_NAME, "topic": topic, "event_type": event_type, "outcome": "applied"}
    return REGISTRY.get_sample_value("refuge_messages_consumed_total", labels) or 0.0


async def test_a_refused_batch_dead_letters_only_the_event_that_fails(
    kafka_bootstrap_servers: str, database: str, issuer: LocalIssuer
) -> None:
    settings = await migrated_settings(kafka_bootstrap_servers, database, issuer.jwks_url)
    tenant = uuid.uuid4()
    # PostgreSQL's text holds no NUL character: the batch's transaction fails on this name,
    # though the event itself is well formed.
    refused = Envelope(
        "/refuge/tests", OrganisationRegistered(organisation_id=tenant, name="Cimade\x00"), tenant
    )
    cases = opened(tenant, 3)
    case_topic, case_type = to_record(cases[0]).topic, cases[0].type
    applied_before = _applied(case_topic, case_type)

    pool = await asyncpg.create_pool(
        settings.database_url, min_size=1, max_size=2, server_settings={"search_path": "reporting, public"}
    )
    assert pool is not None
    producer = EventProducer(kafka_bootstrap_servers, "reporting-refused-batch-tests")
    await producer.start()
    try:
        store = FactStore(pool)
        projector = Projector(
            store,
            _OneFetch([cases[0], refused, *cases[1:]]),  # type: ignore[arg-type]
            await store.current(),
            producer=producer,
            batch_size=100,
            retry=RetryPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.01),
        )

        async def stop_once_caught_up(done: Projector) -> None:
            done.stop()

        await asyncio.wait_for(projector.run(on_caught_up=stop_once_caught_up), timeout=30)
    finally:
        await producer.stop()
        await pool.close()

    assert await cases_of(database, tenant) == 3
    assert _applied(case_topic, case_type) - applied_before == 3
    assert (projector.progress.events_applied, projector.progress.dead_lettered) == (4, 1)
    letters = await dead_letters(kafka_bootstrap_servers)
    (letter,) = [x for x in letters if dict(x.headers).get("ce_id") == refused.id.encode()]
    assert letter.consumer == CONSUMER_NAME and letter.error.startswith("failed: ")
    assert "Cimade" not in letter.error
