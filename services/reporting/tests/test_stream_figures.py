"""The stream page's figures: rates from end offsets, and what of a dead letter it may show."""

from __future__ import annotations

from datetime import UTC, datetime

from refuge_reporting.stream.figures import RateWindow, dead_letter_figure, reason_summary


def test_a_rate_is_taken_over_the_window_not_between_the_last_two_samples() -> None:
    window = RateWindow(window_seconds=10)
    assert window.add(0.0, {"t": 100}) == {"t": None}
    assert window.add(2.0, {"t": 120}) == {"t": 10.0}
    assert window.add(4.0, {"t": 120}) == {"t": 5.0}  # 20 events over 4 s, not 0 over the last 2
    rates = window.add(14.0, {"t": 220, "new": 5})
    assert rates == {"t": 10.0, "new": None}  # the sample at 0 s fell out of the window


def test_a_dead_letter_shows_only_names_of_a_known_shape() -> None:
    at = datetime(2026, 3, 6, 9, 30, tzinfo=UTC)
    safe = dead_letter_figure(
        {
            "refuge_dlq_consumer": b"refuge.deadlines.cases",
            "refuge_dlq_topic": b"refuge.cases.v1",
            "ce_type": b"org.refuge.case.opened.v1",
            "refuge_dlq_error": b"failed: ValidationError: invalid data.case_id",
        },
        at,
    )
    assert (safe.consumer, safe.origin_topic, safe.event_type) == (
        "refuge.deadlines.cases",
        "refuge.cases.v1",
        "org.refuge.case.opened.v1",
    )
    assert safe.reason == "failed: ValidationError" and safe.failed_at == "2026-03-06T09:30:00+00:00"
    forged = dead_letter_figure(
        {
            "refuge_dlq_consumer": b"Amina Haddad",
            "refuge_dlq_topic": b"amina@example.org",
            "ce_type": b"org.refuge.person.amina.v1",
            "refuge_dlq_error": b"Amina Haddad: 06 12 34 56 78",
        },
        at,
    )
    assert (forged.consumer, forged.origin_topic, forged.event_type, forged.reason) == ("?", "?", "?", "?")


def test_a_reason_keeps_its_kind_and_the_error_class_only() -> None:
    assert reason_summary("rejected: the office 6f1c… is closed") == "rejected"
    assert reason_summary("malformed: person_id: uuid_parsing") == "malformed"
    assert reason_summary("failed: KeyError at handlers.py:12 (apply)") == "failed: KeyError"
    assert reason_summary("failed: Jean Dupont est parti") == "failed"
    assert reason_summary("") == "?"
