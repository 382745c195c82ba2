"""The integrator guide's examples, run against real events: intake (in process, its real
outbox and relay) writes a case to refuge.cases.v1 on the real broker; each example's
consumer reads it back, decoded, once, although one event is on the topic twice."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from refuge_common.contract import topics
from refuge_common.contract.envelope import KafkaRecord
from refuge_common.messaging.producer import EventProducer
from refuge_common.service_main import migrate_service
from refuge_devstack.demo import load_demo_data
from refuge_devstack.testing import eventually
from refuge_intake.adapters.token_issuer import generate_signing_key
from refuge_intake.bootstrap import build_app
from refuge_intake.schema import SCHEMA
from refuge_intake.settings import IntakeSettings

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTES = "Amina called: her OQTF was handed to her at the prefecture"


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


aiokafka_example = _example("consume_cases_aiokafka")
confluent_example = _example("consume_cases_confluent")


@dataclass(frozen=True)
class CaseOnTopic:
    tenant: str
    case_id: str
    person_id: str
    records: list[Any]  # the tenant's raw records on refuge.cases.v1, the duplicate included


async def _tenant_records(bootstrap_servers: str, tenant: str) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topics.CASES, bootstrap_servers=bootstrap_servers, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found = []
    try:
        while batch := await consumer.getmany(timeout_ms=700):
            for records in batch.values():
                found.extend(r for r in records if dict(r.headers).get("ce_tenantid") == tenant.encode())
    finally:
        await consumer.stop()
    return found


@pytest.fixture(scope="module")
async def case_on_topic(
    kafka_bootstrap_servers: str, database_url: str, master_key: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[CaseOnTopic]:
    run_dir = tmp_path_factory.mktemp("integrators")
    generate_signing_key(run_dir / "signing.pem")
    settings = IntakeSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=database_url,
        REFUGE_MASTER_KEY=master_key,
        intake_signing_key_file=run_dir / "signing.pem",
        outbox_poll_interval_ms=100,
    )
    await migrate_service(settings, SCHEMA)
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        demo = await load_demo_data(database_url, master_key, run_dir / "demo.json")
        auth = {"Authorization": f"Bearer {demo['caseworker_api_key']}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake", headers=auth) as client:
            person = await client.post(
                "/persons",
                json={"given_name": "Amina", "family_name": "Haddad", "birth_year": 1990, "gender": "female"},
            )
            assert person.status_code == 201, person.text
            person_id = person.json()["person_id"]
            case = await client.post(
                "/cases",
                json={
                    "case_type": "removal_appeal",
                    "channel": "in_person",
                    "caseworker_id": demo["caseworker_id"],
                    "person_id": person_id,
                },
            )
            assert case.status_code == 201, case.text
            case_id = case.json()["case_id"]
            contact = await client.post(
                f"/cases/{case_id}/facts/contact_logged",
                json={"channel": "phone", "outcome": "resolved_remotely", "notes": NOTES},
            )
            assert contact.status_code == 201, contact.text
        tenant = demo["organisation_id"]

        async def both_relayed() -> list[Any]:
            records = await _tenant_records(kafka_bootstrap_servers, tenant)
            return records if len(records) >= 2 else []

        relayed = await eventually(both_relayed, within=60)
    # At least once: a relay that sends again after a lost acknowledgement puts the same
    # record on the topic twice. Do exactly that with the services' producer.
    original = relayed[-1]
    producer = EventProducer(kafka_bootstrap_servers, "integrator-tests")
    await producer.start()
    try:
        await producer.send_in_order(
            [KafkaRecord(topics.CASES, original.key, original.value, list(original.headers))]
        )
    finally:
        await producer.stop()
    records = await eventually(lambda: _settled(kafka_bootstrap_servers, tenant, len(relayed) + 1), within=60)
    yield CaseOnTopic(tenant, case_id, person_id, records)


async def _settled(bootstrap_servers: str, tenant: str, count: int) -> list[Any]:
    records = await _tenant_records(bootstrap_servers, tenant)
    return records if len(records) >= count else []


def _check_events(example: ModuleType, events: list[Any], case: CaseOnTopic) -> None:
    mine = [event for event in events if event.tenant_id == case.tenant]
    assert [event.type for event in mine] == [
        "org.refuge.case.opened.v1",
        "org.refuge.case.contact_logged.v1",
    ]
    opened, contact = mine
    assert {opened.subject, contact.subject} == {case.case_id}
    assert {opened.source, contact.source} == {"/refuge/intake"}
    assert opened.data["case_id"] == case.case_id and opened.data["person_id"] == case.person_id
    assert contact.data["channel"] == "phone" and contact.data["outcome"] == "resolved_remotely"
    notes = contact.data["notes"]
    assert example.is_sealed(notes) and notes["key_id"] == case.person_id and notes["alg"] == "A256GCM"
    assert NOTES not in example.describe(contact) and "<sealed A256GCM" in example.describe(contact)


@pytest.mark.parametrize("example", [aiokafka_example, confluent_example], ids=["aiokafka", "confluent"])
def test_each_example_decodes_the_raw_records_and_spots_the_duplicate(
    case_on_topic: CaseOnTopic, example: ModuleType
) -> None:
    decoded = [example.decode(r.headers, r.key, r.value) for r in case_on_topic.records]
    assert len(decoded) == 3
    assert decoded[-1].identity == decoded[-2].identity  # the duplicate: same source and id
    assert all(NOTES.encode() not in r.value for r in case_on_topic.records)
    dedup = example.Deduplicator()
    _check_events(example, [event for event in decoded if dedup.first_time(event)], case_on_topic)


async def test_the_aiokafka_consumer_hands_over_each_event_once(
    case_on_topic: CaseOnTopic, kafka_bootstrap_servers: str
) -> None:
    handled: list[Any] = []
    stop = asyncio.Event()

    async def handle(event: Any) -> None:
        handled.append(event)

    async def contact_seen() -> bool:
        return any(
            e.type.endswith("contact_logged.v1") and e.tenant_id == case_on_topic.tenant for e in handled
        )

    group = f"integrator-aiokafka-{uuid.uuid4().hex[:8]}"
    task = asyncio.create_task(aiokafka_example.consume(kafka_bootstrap_servers, group, handle, stop=stop))
    try:
        await eventually(contact_seen, within=60)
        # The duplicate follows the original on the same partition: once the consumer has
        # committed past it, everything of the tenant has been offered to the deduplicator.
        await eventually(lambda: _committed_past(kafka_bootstrap_servers, group, case_on_topic), within=30)
    finally:
        stop.set()
        await task
    _check_events(aiokafka_example, handled, case_on_topic)


def test_the_confluent_consumer_hands_over_each_event_once(
    case_on_topic: CaseOnTopic, kafka_bootstrap_servers: str
) -> None:
    handled: list[Any] = []
    stop = threading.Event()
    group = f"integrator-confluent-{uuid.uuid4().hex[:8]}"
    worker = threading.Thread(
        target=confluent_example.consume,
        args=(kafka_bootstrap_servers, group, handled.append),
        kwargs={"stop": stop},
        daemon=True,
    )
    failure: list[BaseException] = []
    worker.run = _capturing(worker.run, failure)  # type: ignore[method-assign]
    worker.start()
    try:
        asyncio.run(
            eventually(lambda: _committed_past(kafka_bootstrap_servers, group, case_on_topic), within=90)
        )
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not failure, failure
    _check_events(confluent_example, handled, case_on_topic)


def _capturing(run: Any, failure: list[BaseException]) -> Any:
    def wrapped() -> None:
        try:
            run()
        except BaseException as error:
            failure.append(error)

    return wrapped


async def _committed_past(bootstrap_servers: str, group: str, case: CaseOnTopic) -> bool:
    """The group's committed offset is beyond the last record of the tenant (the duplicate)."""

    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    last = case.records[-1]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        # Partition by partition: Tansu cannot answer OffsetFetch for all of a group's partitions.
        partition = TopicPartition(last.topic, last.partition)
        offsets = await admin.list_consumer_group_offsets(group, partitions=[partition])
    finally:
        await admin.close()
    committed = offsets.get(partition)
    return committed is not None and committed.offset > last.offset
