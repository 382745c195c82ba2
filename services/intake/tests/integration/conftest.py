"""Intake in-process on the real broker and a fresh database, with two tenants."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from refuge_common.auth.principal import Role
from refuge_common.contract import topics
from refuge_common.contract.vocabulary import OfficeKind
from refuge_common.service_main import migrate_service
from refuge_intake.adapters.token_issuer import generate_signing_key
from refuge_intake.bootstrap import build_app
from refuge_intake.schema import SCHEMA
from refuge_intake.service_layer import onboarding
from refuge_intake.settings import IntakeSettings

# --import-mode=importlib puts no test directory on sys.path: the case-write tests import
# case_write_support.py from here.
sys.path.insert(0, str(Path(__file__).parent))


@dataclass(frozen=True)
class Org:
    organisation_id: UUID
    offices: tuple[UUID, UUID]
    caseworker_key: str  # bound to offices[0], held by caseworker_staff
    coordinator_key: str
    caseworker_staff: UUID
    other_office_caseworker_key: str  # bound to offices[1]
    org_admin_key: str
    operator_key: str
    integrator_key: str


@dataclass(frozen=True)
class Intake:
    client: httpx.AsyncClient
    a: Org
    b: Org
    settings: IntakeSettings
    app: Any

    @property
    def pool(self) -> Any:
        return self.app.state.pool()

    @property
    def keyring(self) -> Any:
        return self.app.state.keyring

    async def read_topic(
        self,
        topic: str,
        *,
        until: Callable[[list[ConsumerRecord[Any, Any]]], bool],
        within: float = 20.0,
    ) -> list[ConsumerRecord[Any, Any]]:
        """Read ``topic`` from the beginning (no group) until ``until(records)`` or the deadline."""

        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        records: list[ConsumerRecord[Any, Any]] = []
        deadline = time.monotonic() + within
        assigned: set[int] = set()
        try:
            while not until(records) and time.monotonic() < deadline:
                # The relay's first publication creates the topic, and a new topic's
                # partitions can show up in the metadata one by one: keep looking.
                await consumer.topics()
                partitions = consumer.partitions_for_topic(topic) or set()
                if partitions - assigned:
                    assigned |= partitions
                    consumer.assign([TopicPartition(topic, p) for p in sorted(assigned)])
                    await consumer.seek_to_beginning()
                    records.clear()
                if not assigned:
                    await asyncio.sleep(0.05)
                    continue
                batch = await consumer.getmany(timeout_ms=200)
                for partition_records in batch.values():
                    records.extend(partition_records)
        finally:
            await consumer.stop()
        return records

    async def register_person(self, key: str, **fields: object) -> str:
        body = {"family_name": "Haddad", **fields}
        response = await self.client.post("/persons", json=body, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 201, response.text
        return str(response.json()["person_id"])

    async def person_records(self, person_id: str, event_type: str) -> list[ConsumerRecord[Any, Any]]:
        """The records of ``refuge.persons.v1`` about one person, once one of ``event_type`` is there."""

        def about(records: list[ConsumerRecord[Any, Any]]) -> list[ConsumerRecord[Any, Any]]:
            return [r for r in records if r.key == person_id.encode()]

        def arrived(records: list[ConsumerRecord[Any, Any]]) -> bool:
            return any(
                dict(r.headers or ()).get("ce_type") == f"org.refuge.{event_type}.v1".encode()
                for r in about(records)
            )

        # Read once the relay has published it: on the embedded broker, a consumer that
        # starts on a partition before its first record is written may not see that record.
        deadline = time.monotonic() + 20
        while await self.pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1", person_id.encode()):
            assert time.monotonic() < deadline, f"the relay did not publish the events of {person_id}"
            await asyncio.sleep(0.05)
        found = about(await self.read_topic(topics.PERSONS, until=arrived))
        assert arrived(found), f"no {event_type} published for {person_id}"
        return found

    async def case_records(self, case_id: str, count: int) -> list[ConsumerRecord[Any, Any]]:
        """The records of ``refuge.cases.v1`` about one case, once at least ``count`` are there."""

        def about(records: list[ConsumerRecord[Any, Any]]) -> list[ConsumerRecord[Any, Any]]:
            return [r for r in records if r.key == case_id.encode()]

        deadline = time.monotonic() + 20
        while await self.pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1", case_id.encode()):
            assert time.monotonic() < deadline, f"the relay did not publish the events of {case_id}"
            await asyncio.sleep(0.05)
        found = about(await self.read_topic(topics.CASES, until=lambda records: len(about(records)) >= count))
        assert len(found) >= count, f"{len(found)} events published for {case_id}, expected {count}"
        return found


async def _onboard(app: object, name: str) -> Org:
    pool = app.state.pool()  # type: ignore[attr-defined]
    org = await onboarding.register_organisation(pool, name)
    offices = [
        await onboarding.open_office(
            pool,
            org,
            name=f"{name} office {n}",
            kind=OfficeKind.DROP_IN_CLINIC,
            timezone="Europe/Paris",
            jurisdiction="FR",
        )
        for n in (1, 2)
    ]
    staff = await onboarding.register_staff(
        pool,
        app.state.keyring,  # type: ignore[attr-defined]
        org,
        role=Role.CASEWORKER,
        office_id=offices[0],
        contact=onboarding.StaffContact(name=f"{name} caseworker"),
    )
    caseworker = await onboarding.create_api_key(
        pool, org, role=Role.CASEWORKER, office_id=offices[0], staff_id=staff
    )
    coordinator = await onboarding.create_api_key(pool, org, role=Role.COORDINATOR)
    return Org(
        org,
        (offices[0], offices[1]),
        caseworker,
        coordinator,
        caseworker_staff=staff,
        other_office_caseworker_key=await onboarding.create_api_key(
            pool, org, role=Role.CASEWORKER, office_id=offices[1]
        ),
        org_admin_key=await onboarding.create_api_key(pool, org, role=Role.ORG_ADMIN),
        operator_key=await onboarding.create_api_key(pool, org, role=Role.OPERATOR),
        integrator_key=await onboarding.create_api_key(pool, org, role=Role.INTEGRATOR),
    )


@pytest.fixture(scope="session")
async def intake(
    kafka_bootstrap_servers: str,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    master_key: str,
) -> AsyncIterator[Intake]:
    key_file = tmp_path_factory.mktemp("intake") / "signing.pem"
    generate_signing_key(key_file)
    settings = IntakeSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=database_url,
        REFUGE_MASTER_KEY=master_key,
        intake_signing_key_file=Path(key_file),
        intake_max_body_bytes=4096,
        outbox_poll_interval_ms=100,
    )
    await migrate_service(settings, SCHEMA)
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            a, b = await _onboard(app, "Org A"), await _onboard(app, "Org B")
            yield Intake(client, a, b, settings, app)
