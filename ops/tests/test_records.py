"""Decoding records for display: the contract's attributes, the data's shape, no values."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from ops_events import SECRET, case_opened, person_registered

from refuge_common.contract.envelope import KafkaRecord, to_record
from refuge_ops.domain.records import (
    EventFilter,
    RawRecord,
    decode,
    event_line,
    safe_text,
    show_header,
    type_matches,
)

TENANT = uuid.uuid4()


def raw(record: KafkaRecord, offset: int = 7) -> RawRecord:
    return RawRecord(
        record.topic, 0, offset, 1_700_000_000_000, record.key, record.value, tuple(record.headers)
    )


def test_a_valid_event_shows_its_attributes_and_shape() -> None:
    office = uuid.uuid4()
    envelope = case_opened(TENANT, office_id=office)
    view = decode(raw(to_record(envelope)))
    assert view.decoded
    assert (view.type, view.subject, view.tenant) == (envelope.type, envelope.subject, str(TENANT))
    line = event_line(view)
    assert line.startswith(envelope.time.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    assert "org.refuge.case.opened.v1" in line and f"tenant={TENANT}" in line and "p0@7" in line
    assert "data={case_id: string, organisation_id: string, office_id: string" in line
    assert str(office) not in line and "asylum" not in line and "FR" not in line.split("data=")[1]


def test_sealed_personal_data_shows_as_sealed() -> None:
    envelope = person_registered(TENANT)
    record = to_record(envelope)
    line = event_line(decode(raw(record)))
    assert "personal_data: sealed" in line
    assert "SY" not in line and "Europe/Paris" not in line and "female" not in line
    for value in SECRET.values():
        assert value not in line


def test_a_record_that_is_no_cloudevent_is_shown_without_its_bytes() -> None:
    record = RawRecord("t", 1, 3, 1_700_000_000_000, b"k", b'{"name": "Jean Dupont"}', ())
    view = decode(record)
    assert not view.decoded
    line = event_line(view)
    assert "MALFORMED" in line and "no ce_type header" in line and "p1@3" in line
    assert "Jean" not in line and "name" not in line and "(23 bytes not shown)" in line


def test_an_invalid_type_is_not_repeated() -> None:
    record = to_record(case_opened(TENANT))
    headers = tuple((n, b"Jean Dupont" if n == "ce_type" else v) for n, v in record.headers)
    line = event_line(decode(dataclasses.replace(raw(record), headers=headers)))
    assert "MALFORMED" in line and "Jean" not in line


def test_invalid_data_names_the_fields_not_the_values() -> None:
    record = to_record(case_opened(TENANT))
    value = record.value.replace(b'"asylum"', b'"Jean Dupont"')
    line = event_line(decode(dataclasses.replace(raw(record), value=value)))
    assert "MALFORMED" in line and "case_type" in line and "Jean" not in line


def test_an_unknown_type_is_shown_as_such_without_its_data() -> None:
    record = to_record(case_opened(TENANT))
    headers = tuple((n, b"org.refuge.case.opened.v9" if n == "ce_type" else v) for n, v in record.headers)
    view = decode(dataclasses.replace(raw(record), headers=headers))
    assert view.type == "org.refuge.case.opened.v9" and view.tenant == str(TENANT)
    line = event_line(view)
    assert "unknown" in line.lower() and "data=" not in line and "case_id" not in line


@pytest.mark.parametrize(
    ("wanted", "type_", "expected"),
    [
        ("org.refuge.case.opened.v1", "org.refuge.case.opened.v1", True),
        ("case.opened", "org.refuge.case.opened.v2", True),
        ("case.opened.v1", "org.refuge.case.opened.v2", False),
        ("case.opened", "org.refuge.case.opened_late.v1", False),
        ("case.opened", None, False),
    ],
)
def test_type_matching(wanted: str, type_: str | None, expected: bool) -> None:
    assert type_matches(wanted, type_) is expected


def test_the_filter_combines_type_and_tenant() -> None:
    view = decode(raw(to_record(case_opened(TENANT))))
    assert EventFilter()(view) and EventFilter(type="case.opened", tenant=TENANT)(view)
    assert not EventFilter(type="person.registered")(view)
    assert not EventFilter(tenant=uuid.uuid4())(view)


def test_header_values_are_shown_only_in_their_contract_shape() -> None:
    assert safe_text("ce_tenantid", str(TENANT).encode()) == str(TENANT)
    assert safe_text("ce_tenantid", b"Jean Dupont") is None
    assert safe_text("ce_source", b"/refuge/intake") == "/refuge/intake"
    assert safe_text("x-anything", b"whatever") is None
    assert show_header("ce_subject", b"\xff\xfe") == "<2 bytes not shown>"
