from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from refuge_common.contract.vocabulary import NotificationChannel
from refuge_notifications.adapters.email_sender import SmtpSender
from refuge_notifications.domain.deliveries import idempotency_key
from refuge_notifications.domain.rendering import (
    beneficiary_language,
    format_instant,
    language_for,
    render_email,
    render_sms,
)

DUE = datetime(2026, 4, 7, 21, 59, 59, tzinfo=UTC)  # 23:59:59 in Paris (CEST)


def test_dates_read_as_people_write_them_in_their_language_and_zone() -> None:
    assert format_instant(DUE, "Europe/Paris", "fr") == "mardi 7 avril 2026 à 23 h 59"
    assert format_instant(DUE, "Europe/Paris", "en") == "Tuesday, April 7, 2026 at 11:59 PM"
    assert format_instant(DUE, "Indian/Mayotte", "fr") == "mercredi 8 avril 2026 à 0 h 59"


def test_one_instant_reads_differently_in_each_zone_language_and_locale() -> None:
    # Formatted dates are cached: each of these must be a key of its own.
    texts = {
        format_instant(DUE, "Europe/Paris", "fr"),
        format_instant(DUE, "Indian/Mayotte", "fr"),
        format_instant(DUE, "Europe/Paris", "en"),
        format_instant(DUE, "Europe/Paris", "en", locale="en_GB"),
        format_instant(DUE, "Europe/Paris", "fr", with_time=False),
    }
    assert len(texts) == 5
    assert format_instant(DUE, "Europe/Paris", "en", locale="en_GB") == "Tuesday, April 7, 2026 at 11:59 pm"


def test_a_wall_time_that_occurs_twice_is_two_instants() -> None:
    # 02:30 on the night clocks go back in Paris: first in summer time, then in winter time.
    # The two datetimes compare equal (same zone, same wall time), but are an hour apart.
    first = datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Paris"))
    second = first.replace(fold=1)
    assert format_instant(first, "UTC", "fr") == "dimanche 25 octobre 2026 à 0 h 30"
    assert format_instant(second, "UTC", "fr") == "dimanche 25 octobre 2026 à 1 h 30"
    assert format_instant(first.astimezone(UTC), "Europe/Paris", "fr") == "dimanche 25 octobre 2026 à 2 h 30"


def test_sms_bodies_differ_by_every_value_they_are_rendered_from() -> None:
    # SMS bodies are cached on the template, the language and all the values.
    values = {"organisation": "Asile", "lang": "fr", "purpose": "appeal", "due_text": "mardi 7 avril"}
    body = render_sms("beneficiary_reminder", "fr", values)
    assert body.startswith("Asile : le délai pour faire votre recours se termine le mardi 7 avril.")
    assert render_sms("beneficiary_reminder", "fr", dict(reversed(values.items()))) == body
    variants = {
        render_sms("beneficiary_reminder", "fr", {**values, "organisation": "Cimade"}),
        render_sms("beneficiary_reminder", "fr", {**values, "due_text": "mercredi 8 avril"}),
        render_sms("beneficiary_reminder", "fr", {**values, "purpose": "hearing"}),
        render_sms("beneficiary_reminder", "en", values),
        render_sms(
            "beneficiary_hearing", "fr", {**values, "change": "scheduled", "hearing_text": "x", "court": "C"}
        ),
    }
    assert body not in variants and len(variants) == 5


def test_the_language_of_a_tag_is_the_same_each_time() -> None:
    assert beneficiary_language("ar-SY", "fr") == beneficiary_language("ar-SY", "fr")
    assert beneficiary_language("ar-SY", "fr").locale == "ar_SY"
    assert beneficiary_language("ar", "fr").locale == "ar"


def test_unknown_languages_fall_back() -> None:
    assert language_for("fr-FR") == "fr"
    assert language_for("ps") == "en"
    assert language_for(None) == "en"


def test_caseworker_reminder_in_french_as_text_and_html() -> None:
    rendered = render_email(
        "caseworker_reminder",
        "fr",
        {
            "organisation": "La Cimade",
            "purpose": "appeal",
            "case_reference": "AB12CD34",
            "due_text": "mardi 7 avril 2026 à 23 h 59",
            "timezone": "Europe/Paris",
        },
    )
    assert rendered.language == "fr"
    assert "AB12CD34" in rendered.subject and "La Cimade" in rendered.subject
    assert "mardi 7 avril 2026 à 23 h 59" in rendered.text
    assert "<strong>mardi 7 avril 2026 à 23 h 59</strong>" in rendered.html


def test_html_escapes_what_it_is_given() -> None:
    rendered = render_email(
        "caseworker_reminder",
        "en",
        {
            "organisation": "<script>",
            "purpose": "appeal",
            "case_reference": "X",
            "due_text": "d",
            "timezone": "UTC",
        },
    )
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html


def test_one_key_per_event_recipient_and_channel() -> None:
    recipient = uuid.uuid4()
    key = idempotency_key("/refuge/deadlines", "e1", recipient, NotificationChannel.EMAIL)
    assert key == idempotency_key("/refuge/deadlines", "e1", recipient, NotificationChannel.EMAIL)
    assert key != idempotency_key("/refuge/deadlines", "e2", recipient, NotificationChannel.EMAIL)
    assert key != idempotency_key("/refuge/deadlines", "e1", uuid.uuid4(), NotificationChannel.EMAIL)
    assert key != idempotency_key("/refuge/deadlines", "e1", recipient, NotificationChannel.SMS)


def test_the_email_is_multipart_with_a_stable_message_id() -> None:
    sender = SmtpSender(host="localhost", port=25, sender="Refuge <r@example.org>")
    rendered = render_email(
        "caseworker_reminder",
        "en",
        {
            "organisation": "NGO",
            "purpose": "appeal",
            "case_reference": "X",
            "due_text": "d",
            "timezone": "UTC",
        },
    )
    message = sender.build("cw@example.org", rendered, "abc123").parsed()
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == "<abc123@refuge.notifications>"
