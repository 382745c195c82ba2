"""`refuge dlq`: dead letters written the way the platform writes them, listed, shown and replayed."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from ops_events import SECRET, case_opened, person_registered
from ops_kafka import Kafka, refuge, unique

from refuge_common.contract import topics
from refuge_common.contract.envelope import KafkaRecord, from_record, to_record
from refuge_common.messaging.deadletter import parse_dead_letter, send_to_dead_letters
from refuge_common.messaging.producer import EventProducer

pytestmark = pytest.mark.integration
TENANT = uuid.uuid4()
REASON = "failed: RuntimeError at handlers.py:12 (apply_person)"


def headers(record: ConsumerRecord[Any, Any]) -> dict[str, bytes]:
    return {name: bytes(value) for name, value in (record.headers or ())}


@dataclasses.dataclass
class Letters:
    origin: str
    consumer: str
    originals: list[ConsumerRecord[Any, Any]]  # person (good event), garbage (malformed)
    positions: list[str]  # their dead letters, P:O on refuge.deadletter.v1


@pytest.fixture(scope="module")
async def letters(kafka: Kafka) -> Letters:
    origin = await kafka.create_topic("ops.origin")
    consumer = unique("ops-consumer")
    person = dataclasses.replace(to_record(person_registered(TENANT)), topic=origin)
    garbage = KafkaRecord(
        origin, b"k", b'{"given_name": "Jean Dupont"}', [("content-type", b"application/json")]
    )
    await kafka.produce([dataclasses.replace(to_record(case_opened(TENANT)), topic=origin), person, garbage])
    originals = (await kafka.read(origin, at_least=3))[1:]
    # What EventConsumer does with a record it gives up on (messaging/consumer.py).
    producer = EventProducer(kafka.bootstrap_servers, "ops-tests")
    await producer.start()
    try:
        await send_to_dead_letters(producer, originals[0], consumer=consumer, error=REASON, attempts=5)
        reason = "malformed: not a CloudEvent in binary mode: no ce_type header"
        await send_to_dead_letters(producer, originals[1], consumer=consumer, error=reason, attempts=1)
    finally:
        await producer.stop()
    ours = [r for r in await kafka.read(topics.DEADLETTER) if parse_dead_letter(r).consumer == consumer]
    assert len(ours) == 2
    ours.sort(key=lambda r: parse_dead_letter(r).origin_offset)  # the person's first
    return Letters(origin, consumer, originals, [f"{r.partition}:{r.offset}" for r in ours])


async def test_list_shows_origin_reason_attempts_type_and_id(kafka: Kafka, letters: Letters) -> None:
    result = await refuge(kafka, "dlq", "list", "--consumer", letters.consumer)
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and "2 dead letters, 0 replayed" in result.output
    person = letters.originals[0]
    assert lines[0].startswith(f"{letters.positions[0]}  ")
    assert f"{letters.origin} p{person.partition}@{person.offset}" in lines[0]
    assert f"consumer={letters.consumer}" in lines[0] and "attempts=5" in lines[0]
    assert "type=org.refuge.person.registered.v1" in lines[0]
    assert f"id={headers(person)['ce_id'].decode()}" in lines[0] and f"reason: {REASON}" in lines[0]
    assert "type=-" in lines[1] and "no ce_type header" in lines[1] and "[not replayed]" in lines[1]
    assert "Jean" not in result.output and "Amina" not in result.output


async def test_list_filters(kafka: Kafka, letters: Letters) -> None:
    by_topic = await refuge(kafka, "dlq", "list", "--topic", letters.origin)
    assert len(by_topic.stdout.splitlines()) == 2
    by_type = await refuge(
        kafka, "dlq", "list", "--consumer", letters.consumer, "--type", "person.registered"
    )
    assert [line.split()[0] for line in by_type.stdout.splitlines()] == letters.positions[:1]
    later = await refuge(kafka, "dlq", "list", "--consumer", letters.consumer, "--since", "2999-01-01")
    assert later.stdout == ""
    earlier = await refuge(
        kafka, "dlq", "list", "--consumer", letters.consumer, "--since", "2000-01-01T00:00Z"
    )
    assert len(earlier.stdout.splitlines()) == 2
    bad = await refuge(kafka, "dlq", "list", "--since", "yesterday", ok=False)
    assert bad.exit_code == 2


async def test_show_gives_headers_and_the_shape_of_the_data(kafka: Kafka, letters: Letters) -> None:
    shown = await refuge(kafka, "dlq", "show", letters.positions[0])
    assert f"ce_tenantid: {TENANT}" in shown.stdout and f"refuge_dlq_error: {REASON}" in shown.stdout
    assert "personal_data: sealed" in shown.stdout and "event           decodes" in shown.stdout
    for value in [*SECRET.values(), "Europe/Paris", "SY", "female"]:
        assert value not in shown.output
    malformed = await refuge(kafka, "dlq", "show", letters.positions[1])
    assert "data            {given_name: string}" in malformed.stdout and "Jean" not in malformed.output
    missing = await refuge(kafka, "dlq", "show", "0:999999999", ok=False)
    assert missing.exit_code == 1


async def test_replay(kafka: Kafka, letters: Letters) -> None:
    before = await kafka.read(letters.origin, at_least=3)

    dry = await refuge(kafka, "dlq", "replay", "--consumer", letters.consumer, "--dry-run")
    assert dry.stdout.count("would replay") == 2 and "nothing was published" in dry.stdout
    declined = await refuge(kafka, "dlq", "replay", "--consumer", letters.consumer, stdin="n\n", ok=False)
    assert declined.exit_code == 1
    assert len(await kafka.read(letters.origin)) == len(before)

    first = await refuge(kafka, "dlq", "replay", "--offset", letters.positions[0], "--yes")
    assert "replayed 1 dead letters" in first.stdout
    after = await kafka.read(letters.origin, at_least=len(before) + 1)
    assert len(after) == len(before) + 1
    replayed, original = after[-1], letters.originals[0]
    assert (replayed.key, replayed.value) == (original.key, original.value)
    replayed_headers = headers(replayed)
    assert replayed_headers["refuge_replayed_from"] == f"{topics.DEADLETTER}:{letters.positions[0]}".encode()
    assert not [name for name in replayed_headers if name.startswith("refuge_dlq_")]
    assert {n: v for n, v in replayed_headers.items() if n.startswith("ce_")} == {
        n: v for n, v in headers(original).items() if n.startswith("ce_")
    }
    event = from_record(replayed.headers, replayed.key, replayed.value)
    assert event.id == headers(original)["ce_id"].decode()

    again = await refuge(kafka, "dlq", "replay", "--offset", letters.positions[0], "--yes")
    assert f"skipped {letters.positions[0]}: already replayed" in again.stdout
    assert "nothing to replay" in again.stdout
    rest = await refuge(kafka, "dlq", "replay", "--consumer", letters.consumer, "--yes")
    assert "replayed 1 dead letters" in rest.stdout and f"replayed {letters.positions[1]} " in rest.stdout
    final = await refuge(kafka, "dlq", "replay", "--consumer", letters.consumer, "--yes")
    assert "nothing to replay" in final.stdout
    on_origin = await kafka.read(letters.origin, at_least=len(before) + 2)
    assert len(on_origin) == len(before) + 2
    assert on_origin[-1].value == letters.originals[1].value

    listed = await refuge(kafka, "dlq", "list", "--consumer", letters.consumer)
    assert listed.stdout.count(f"[replayed to {letters.origin} p") == 2
    forced = await refuge(kafka, "dlq", "replay", "--offset", letters.positions[0], "--dry-run", "--force")
    assert "would replay" in forced.stdout


async def test_replay_needs_a_selection(kafka: Kafka) -> None:
    nothing = await refuge(kafka, "dlq", "replay", ok=False)
    assert nothing.exit_code == 2
    both = await refuge(kafka, "dlq", "replay", "--all", "--type", "case.opened", ok=False)
    assert both.exit_code == 2
    missing = await refuge(kafka, "dlq", "replay", "--offset", "0:999999999", "--yes", ok=False)
    assert missing.exit_code == 1 and "no such dead letter" in missing.output
