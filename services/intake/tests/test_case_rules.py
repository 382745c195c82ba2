"""The pure rules of case facts, case listing and Idempotency-Key fingerprints."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from refuge_common.contract.cases import CaseConsentRecorded, CaseContactLogged, CaseDecisionNotified
from refuge_common.contract.vocabulary import CaseOutcome, CaseType, ConsentPurpose
from refuge_intake.domain import cases as rules
from refuge_intake.domain.case_search import CaseFilters, Cursor
from refuge_intake.domain.cases import Consent, FactConflict, HearingChange, HearingStatus
from refuge_intake.domain.idempotency import fingerprint
from refuge_intake.domain.normalise import InvalidField

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CASE = uuid.uuid4()


def _consent(given: bool) -> CaseConsentRecorded:
    return CaseConsentRecorded(case_id=CASE, purpose=ConsentPurpose.SMS, given=given, recorded_at=NOW)


def test_a_closed_case_takes_only_a_consent_withdrawal() -> None:
    decision = CaseDecisionNotified(case_id=CASE, jurisdiction="FR", decision="oqtf", notified_at=NOW)
    contact = CaseContactLogged(case_id=CASE, channel="phone", outcome="other", contacted_at=NOW)
    assert rules.accepts_on_closed_case(_consent(given=False))
    for refused in (_consent(given=True), decision, contact):
        assert not rules.accepts_on_closed_case(refused)
        with pytest.raises(FactConflict) as error:
            rules.refuse_if_closed("closed", refused)
        assert error.value.field == "case_id"
    rules.refuse_if_closed("open", decision)


def test_what_happened_cannot_be_in_the_future_but_a_date_may_be_tomorrow_somewhere() -> None:
    rules.not_in_future("notified_at", NOW, NOW)
    with pytest.raises(InvalidField, match="notified_at"):
        rules.not_in_future("notified_at", NOW + timedelta(seconds=1), NOW)
    # 12:00 UTC is already 2 June in Kiritimati (UTC+14), not yet 3 June anywhere.
    rules.not_in_future("arrived_on", date(2026, 6, 2), NOW)
    with pytest.raises(InvalidField, match="arrived_on"):
        rules.not_in_future("arrived_on", date(2026, 6, 3), NOW)


def test_a_hearing_is_scheduled_for_the_future_only() -> None:
    rules.in_future("scheduled_at", NOW + timedelta(minutes=1), NOW)
    for past in (NOW, NOW - timedelta(days=1)):
        with pytest.raises(InvalidField) as error:
            rules.in_future("scheduled_at", past, NOW)
        assert error.value.field == "scheduled_at"


@pytest.mark.parametrize(
    ("current", "change", "after"),
    [
        (HearingStatus.SCHEDULED, HearingChange.RESCHEDULE, HearingStatus.SCHEDULED),
        (HearingStatus.SCHEDULED, HearingChange.CANCEL, HearingStatus.CANCELLED),
        (HearingStatus.SCHEDULED, HearingChange.HOLD, HearingStatus.HELD),
        (HearingStatus.CANCELLED, HearingChange.RESCHEDULE, HearingStatus.SCHEDULED),
        (HearingStatus.CANCELLED, HearingChange.CANCEL, None),
        (HearingStatus.CANCELLED, HearingChange.HOLD, None),
        (HearingStatus.HELD, HearingChange.RESCHEDULE, None),
        (HearingStatus.HELD, HearingChange.CANCEL, None),
        (HearingStatus.HELD, HearingChange.HOLD, None),
    ],
)
def test_hearing_transitions(
    current: HearingStatus, change: HearingChange, after: HearingStatus | None
) -> None:
    if after is None:
        with pytest.raises(FactConflict) as error:
            rules.hearing_after(current, change)
        assert error.value.field == "hearing_id"
    else:
        assert rules.hearing_after(current, change) is after


def test_detention_starts_once_and_ends_after_it_started() -> None:
    rules.check_detention_start(None)
    with pytest.raises(FactConflict, match="started_at"):
        rules.check_detention_start(NOW)
    with pytest.raises(FactConflict, match="ended_at"):
        rules.check_detention_end(None, NOW)
    with pytest.raises(InvalidField, match="ended_at"):
        rules.check_detention_end(NOW, NOW - timedelta(hours=1))
    rules.check_detention_end(NOW, NOW)


def test_a_consent_dated_before_the_one_on_record_is_refused() -> None:
    rules.check_consent_order(None, NOW)
    rules.check_consent_order(Consent(given=True, recorded_at=NOW), NOW)
    with pytest.raises(InvalidField, match="recorded_at"):
        rules.check_consent_order(Consent(given=True, recorded_at=NOW), NOW - timedelta(minutes=1))


def test_an_assisted_return_departs_only_with_a_consent_still_given() -> None:
    avr, outcome = CaseType.ASSISTED_VOLUNTARY_RETURN, CaseOutcome.VOLUNTARY_RETURN
    for consent in (None, Consent(given=False, recorded_at=NOW)):
        with pytest.raises(FactConflict) as error:
            rules.check_departure(avr, outcome, consent)
        assert error.value.field == "consent" and "assisted_return" in str(error.value)
    rules.check_departure(avr, outcome, Consent(given=True, recorded_at=NOW))
    # Other outcomes, and other case types, are not held to it.
    rules.check_departure(avr, CaseOutcome.WITHDRAWN, None)
    rules.check_departure(avr, CaseOutcome.REMOVED, None)
    rules.check_departure(CaseType.ASYLUM, outcome, None)


def test_a_transfer_goes_to_another_office() -> None:
    office = uuid.uuid4()
    rules.check_transfer(office, uuid.uuid4())
    with pytest.raises(InvalidField, match="office_id"):
        rules.check_transfer(office, office)


def test_filters_refuse_an_inverted_date_range() -> None:
    CaseFilters(opened_from=date(2026, 1, 1), opened_to=date(2026, 1, 1))
    with pytest.raises(InvalidField, match="opened_to"):
        CaseFilters(opened_from=date(2026, 1, 2), opened_to=date(2026, 1, 1))


def test_a_cursor_round_trips_and_a_forged_one_names_the_cursor() -> None:
    cursor = Cursor(datetime(2026, 3, 6, 9, 30, 0, 123456, tzinfo=UTC), uuid.uuid4())
    assert Cursor.decode(cursor.encode()) == cursor
    for forged in ("", "!!!", "e30", "bnVsbA", "eyJvIjoiMjAyNi0wMy0wNlQwOTozMDowMCIsImMiOiJ4In0"):
        with pytest.raises(InvalidField) as error:
            Cursor.decode(forged)
        assert error.value.field == "cursor"


def test_the_fingerprint_ignores_json_layout_and_nothing_else() -> None:
    same = fingerprint("POST", "/cases", b'{"a": 1, "b": [1, 2]}')
    assert fingerprint("post", "/cases", b'{"b":[1,2],"a":1}') == same
    assert fingerprint("POST", "/cases", b'{"a": 2, "b": [1, 2]}') != same
    assert fingerprint("POST", "/cases", b'{"a": 1, "b": [2, 1]}') != same
    assert fingerprint("PATCH", "/cases", b'{"a": 1, "b": [1, 2]}') != same
    assert fingerprint("POST", "/persons", b'{"a": 1, "b": [1, 2]}') != same
    assert fingerprint("POST", "/cases", b"not json") != fingerprint("POST", "/cases", b"not json!")
