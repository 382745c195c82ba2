"""Events to fact rows, duplicates collapsed, and the fast decoder agreeing with the SDK's."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from refuge_common.contract.cases import CaseContactLogged, CaseOpened
from refuge_common.contract.envelope import Envelope, MalformedEvent, from_record, new_event, to_record
from refuge_common.contract.persons import PersonRegistered, PersonUpdated
from refuge_reporting.adapters.decoding import decode
from refuge_reporting.domain.facts import NoTenant, collapse, rows_of

TENANT = uuid.uuid4()
NOW = datetime(2026, 3, 6, 10, 30, tzinfo=UTC)


def opened(case_id: uuid.UUID | None = None) -> CaseOpened:
    return CaseOpened(
        case_id=case_id or uuid.uuid4(),
        organisation_id=TENANT,
        office_id=uuid.uuid4(),
        case_type="asylum",
        jurisdiction="FR",
        channel="phone",
        opened_at=NOW,
    )


def test_a_duplicated_event_collapses_to_one_row() -> None:
    event = new_event("/refuge/intake", opened(), TENANT)
    rows = collapse(rows_of(event) + rows_of(event))
    assert len(rows["cases"]) == 1


def test_two_contacts_on_one_case_are_two_rows_keyed_by_event() -> None:
    case = uuid.uuid4()
    contacts = [
        new_event(
            "/refuge/intake",
            CaseContactLogged(case_id=case, channel="phone", outcome="resolved_remotely", contacted_at=NOW),
            TENANT,
        )
        for _ in range(2)
    ]
    assert len(collapse(rows_of(contacts[0]) + rows_of(contacts[1]))["contacts"]) == 2


def test_a_person_keeps_the_newest_attributes_in_a_batch_whatever_the_order() -> None:
    person = uuid.uuid4()
    older = Envelope("/refuge/intake", PersonRegistered(person_id=person), TENANT, time=NOW)
    newer = Envelope(
        "/refuge/intake",
        PersonUpdated(person_id=person, gender="female", nationalities=["AF", "IR"], age_band="26-35"),
        TENANT,
        time=NOW + timedelta(minutes=1),
    )
    for order in ([older, newer], [newer, older]):
        (row,) = collapse(r for e in order for r in rows_of(e))["persons"]
        assert row.values[2:5] == ("female", "AF", "26-35")


def test_an_event_without_tenant_is_refused() -> None:
    with pytest.raises(NoTenant):
        rows_of(new_event("/refuge/intake", opened(), None))


def test_the_fast_decoder_reads_what_the_sdk_reads() -> None:
    event = new_event("/refuge/intake", opened(), TENANT)
    record = to_record(event)
    fast = decode(record.headers, record.key, record.value)
    slow = from_record(record.headers, record.key, record.value)
    assert fast == slow


def test_the_fast_decoder_rejects_what_the_sdk_rejects() -> None:
    record = to_record(new_event("/refuge/intake", opened(), TENANT))
    broken = json.dumps({**json.loads(record.value), "case_type": "nonsense"}).encode()
    with pytest.raises(MalformedEvent, match="case_type"):
        decode(record.headers, record.key, broken)
    with pytest.raises(MalformedEvent):
        decode([(n, v) for n, v in record.headers if n != "ce_type"], record.key, record.value)
