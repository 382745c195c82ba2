"""`refuge tail` on real CloudEvents: types, tenants and the data's shape, never a value."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import uuid
from pathlib import Path

import pytest
from ops_events import SECRET, case_opened, person_registered
from ops_kafka import Kafka, refuge

from refuge_common.contract.envelope import Envelope, KafkaRecord, to_record
from refuge_ops.adapters.broker import KafkaGateway
from refuge_ops.domain.records import EventFilter, EventView
from refuge_ops.service_layer.streams import TailRequest, tail

pytestmark = pytest.mark.integration

TENANT_A, TENANT_B = uuid.uuid4(), uuid.uuid4()


def on(topic: str, envelope: Envelope) -> KafkaRecord:
    return dataclasses.replace(to_record(envelope), topic=topic)


@dataclasses.dataclass
class Published:
    topic: str
    events: list[Envelope]
    offices: list[uuid.UUID]
    sealed_ciphertext: str


@pytest.fixture(scope="module")
async def published(kafka: Kafka) -> Published:
    topic = await kafka.create_topic("ops.tail")
    offices = [uuid.uuid4() for _ in range(3)]
    person = person_registered(TENANT_A)
    events = [
        case_opened(TENANT_A, office_id=offices[0]),
        person,
        case_opened(TENANT_B, office_id=offices[1]),
        case_opened(TENANT_A, office_id=offices[2]),
    ]
    await kafka.produce([on(topic, event) for event in events])
    valid = on(topic, events[0])
    unknown = [(n, b"org.refuge.case.opened.v9" if n == "ce_type" else v) for n, v in valid.headers]
    strays = [
        KafkaRecord(topic, b"k", b'{"name": "Jean Dupont"}', [("content-type", b"application/json")]),
        dataclasses.replace(valid, headers=unknown),
    ]
    await kafka.produce(strays)
    sealed = person.data.personal_data  # type: ignore[attr-defined]
    return Published(topic, events, offices, sealed.ciphertext)


def lines_of(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


async def test_tail_shows_types_tenants_and_shapes_never_values(kafka: Kafka, published: Published) -> None:
    result = await refuge(kafka, "tail", published.topic)
    lines = lines_of(result.stdout)
    assert len(lines) == 6, result.stdout
    types = [line.split()[1] for line in lines]
    assert types == [
        "org.refuge.case.opened.v1",
        "org.refuge.person.registered.v1",
        "org.refuge.case.opened.v1",
        "org.refuge.case.opened.v1",
        "MALFORMED",
        "org.refuge.case.opened.v9",
    ]
    assert f"tenant={TENANT_B}" in lines[2] and f"tenant={TENANT_A}" in lines[0]
    assert f"subject={published.events[1].subject}" in lines[1]
    assert "p0@1" in lines[1] and "personal_data: sealed" in lines[1]
    assert "data={case_id: string, organisation_id: string, office_id: string" in lines[0]
    assert "no ce_type header" in lines[4] and "UNKNOWN TYPE" in lines[5]
    for value in [*SECRET.values(), published.sealed_ciphertext, "Jean", "asylum", "Europe/Paris", "SY"]:
        assert value not in result.output
    for office in published.offices:
        assert str(office) not in result.output


async def test_tail_filters_by_type_and_tenant(kafka: Kafka, published: Published) -> None:
    by_type = lines_of((await refuge(kafka, "tail", published.topic, "--type", "case.opened.v1")).stdout)
    assert len(by_type) == 3 and all("org.refuge.case.opened.v1" in line for line in by_type)
    any_version = lines_of((await refuge(kafka, "tail", published.topic, "--type", "case.opened")).stdout)
    assert len(any_version) == 4 and "org.refuge.case.opened.v9" in any_version[-1]
    full_type = await refuge(kafka, "tail", published.topic, "--type", "org.refuge.person.registered.v1")
    assert len(lines_of(full_type.stdout)) == 1 and "personal_data: sealed" in full_type.stdout
    by_tenant = lines_of((await refuge(kafka, "tail", published.topic, "--tenant", str(TENANT_B))).stdout)
    assert len(by_tenant) == 1 and f"subject={published.events[2].subject}" in by_tenant[0]
    both = await refuge(
        kafka, "tail", published.topic, "--tenant", str(TENANT_A), "--type", "person.registered"
    )
    assert len(lines_of(both.stdout)) == 1
    none = await refuge(kafka, "tail", published.topic, "--tenant", str(uuid.uuid4()))
    assert lines_of(none.stdout) == [] and "no matching events" in none.output


async def test_tail_limit_keeps_the_last_events(kafka: Kafka, published: Published) -> None:
    last_two = lines_of((await refuge(kafka, "tail", published.topic, "--limit", "2")).stdout)
    assert [line.split()[1] for line in last_two] == ["MALFORMED", "org.refuge.case.opened.v9"]
    first_two = lines_of(
        (await refuge(kafka, "tail", published.topic, "--from-beginning", "--limit", "2")).stdout
    )
    assert [line.split()[4] for line in first_two] == ["p0@0", "p0@1"]
    last_case = await refuge(kafka, "tail", published.topic, "--type", "case.opened.v1", "--limit", "1")
    assert [line.split()[4] for line in lines_of(last_case.stdout)] == ["p0@3"]
    everything = await refuge(kafka, "tail", published.topic, "--from-beginning", "--limit", "0")
    assert len(lines_of(everything.stdout)) == 6


async def test_tail_of_a_missing_topic_fails(kafka: Kafka) -> None:
    result = await refuge(kafka, "tail", "no.such.topic.here", ok=False)
    assert result.exit_code == 1 and "no topic no.such.topic.here" in result.output


async def test_follow_prints_new_events_as_they_come(kafka: Kafka) -> None:
    topic = await kafka.create_topic("ops.follow")
    await kafka.produce([on(topic, case_opened(TENANT_A))])
    seen: list[EventView] = []
    new = asyncio.Event()

    def emit(view: EventView) -> None:
        seen.append(view)
        if len(seen) == 3:
            new.set()

    request = TailRequest(topic=topic, filter=EventFilter(tenant=TENANT_B), follow=True)
    async with KafkaGateway(kafka.bootstrap_servers) as broker:
        following = asyncio.create_task(tail(broker, request, emit))
        await asyncio.sleep(1.0)
        assert seen == []  # the backlog has no event of tenant B
        fresh = [
            case_opened(TENANT_B),
            case_opened(TENANT_A),
            person_registered(TENANT_B),
            case_opened(TENANT_B),
        ]
        await kafka.produce([on(topic, event) for event in fresh])
        await asyncio.wait_for(new.wait(), timeout=20)
        following.cancel()
        with pytest.raises(asyncio.CancelledError):
            await following
    assert [view.subject for view in seen] == [fresh[0].subject, fresh[2].subject, fresh[3].subject]


async def test_the_installed_command_decodes_every_contract_type(kafka: Kafka, published: Published) -> None:
    """As an operator runs it: a fresh process, where only refuge_ops registers the event types."""

    command = Path(sys.executable).with_name("refuge")
    process = await asyncio.create_subprocess_exec(
        str(command),
        "tail",
        published.topic,
        "--limit",
        "4",
        "--from-beginning",
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    lines = lines_of(stdout.decode())
    assert len(lines) == 4 and "personal_data: sealed" in lines[1]
    assert "UNKNOWN" not in stdout.decode() and "MALFORMED" not in stdout.decode()
