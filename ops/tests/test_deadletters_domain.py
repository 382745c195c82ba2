"""Dead letters read, selected and turned back into the original record, without values."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from ops_events import SECRET, person_registered

from refuge_common.contract import topics
from refuge_common.contract.envelope import to_record
from refuge_common.messaging.deadletter import dead_letter_record
from refuge_ops.domain.deadletters import (
    DeadLetterFilter,
    Position,
    dead_letter_of,
    letter_details,
    letter_line,
    parse_since,
    replay_record,
    replayed_position,
)
from refuge_ops.domain.records import REPLAYED_FROM, RawRecord

TENANT = uuid.uuid4()


def letter_at(offset: int = 4, *, error: str = "failed: RuntimeError at h.py:3 (apply)") -> RawRecord:
    original = to_record(person_registered(TENANT))
    consumed = RawRecord(topics.PERSONS, 2, 11, 0, original.key, original.value, tuple(original.headers))
    letter = dead_letter_record(consumed, consumer="notifications", error=error, attempts=5)
    return RawRecord(
        letter.topic, 0, offset, 1_700_000_000_000, letter.key, letter.value, tuple(letter.headers)
    )


def test_a_dead_letter_names_its_origin_consumer_reason_and_event() -> None:
    record = letter_at()
    letter = dead_letter_of(record)
    assert (letter.origin_topic, letter.origin, letter.consumer) == (
        topics.PERSONS,
        Position(2, 11),
        "notifications",
    )
    assert letter.attempts == 5 and letter.type == "org.refuge.person.registered.v1"
    assert letter.event_id == record.header("ce_id").decode()  # type: ignore[union-attr]
    line = letter_line(letter, None)
    assert line.startswith("0:4  ") and "refuge.persons.v1 p2@11" in line and "consumer=notifications" in line
    assert "reason: failed: RuntimeError at h.py:3 (apply)" in line and "not replayed" in line


def test_show_gives_headers_and_shape_never_values() -> None:
    letter = dead_letter_of(letter_at())
    text = "\n".join(letter_details(letter, "refuge.persons.v1 p2@30"))
    assert "personal_data: sealed" in text and "refuge_dlq_consumer: notifications" in text
    assert f"ce_tenantid: {TENANT}" in text and "replayed        refuge.persons.v1 p2@30" in text
    for value in [*SECRET.values(), "SY", "Europe/Paris", "female", "26-35"]:
        assert value not in text


def test_replay_is_the_original_record_marked_with_its_dead_letter() -> None:
    record = letter_at(offset=9)
    letter = dead_letter_of(record)
    replayed = replay_record(letter)
    assert replayed.topic == topics.PERSONS
    assert (replayed.key, replayed.value) == (record.key, record.value)
    names = [name for name, _ in replayed.headers]
    assert not [name for name in names if name.startswith("refuge_dlq_")]
    assert dict(replayed.headers)[REPLAYED_FROM] == b"refuge.deadletter.v1:0:9"
    assert [h for h in replayed.headers if h[0].startswith("ce_")] == [
        h for h in record.headers if h[0].startswith("ce_")
    ]
    on_origin = RawRecord(topics.PERSONS, 2, 40, 0, replayed.key, replayed.value, tuple(replayed.headers))
    assert replayed_position(on_origin) == Position(0, 9)


def test_a_replay_that_failed_again_is_replayed_with_its_new_mark_only() -> None:
    first = replay_record(dead_letter_of(letter_at(offset=9)))
    consumed = RawRecord(first.topic, 2, 40, 0, first.key, first.value, tuple(first.headers))
    again = dead_letter_record(consumed, consumer="notifications", error="failed: x", attempts=5)
    letter = dead_letter_of(RawRecord(again.topic, 0, 12, 0, again.key, again.value, tuple(again.headers)))
    assert letter.replay_of == "refuge.deadletter.v1:0:9"
    assert "replay of       refuge.deadletter.v1:0:9" in letter_details(letter, None)
    marks = [value for name, value in replay_record(letter).headers if name == REPLAYED_FROM]
    assert marks == [b"refuge.deadletter.v1:0:12"]


def test_selection_combines_its_criteria() -> None:
    letter = dead_letter_of(letter_at())
    assert DeadLetterFilter()(letter)
    assert DeadLetterFilter(consumer="notifications", type="person.registered", topic=topics.PERSONS)(letter)
    assert not DeadLetterFilter(consumer="deadlines")(letter)
    assert not DeadLetterFilter(type="case.opened")(letter)
    assert not DeadLetterFilter(positions=frozenset({Position(0, 5)}))(letter)
    assert DeadLetterFilter(since=datetime.now(UTC) - timedelta(minutes=1))(letter)
    assert not DeadLetterFilter(since=datetime.now(UTC) + timedelta(minutes=1))(letter)


def test_positions_and_instants_parse() -> None:
    assert Position.parse("3:42") == Position(3, 42) and str(Position(3, 42)) == "3:42"
    with pytest.raises(ValueError):
        Position.parse("42")
    assert parse_since("2026-03-06") == datetime(2026, 3, 6, tzinfo=UTC)
    assert parse_since("2026-03-06T10:30:00+01:00").utcoffset() == timedelta(hours=1)
