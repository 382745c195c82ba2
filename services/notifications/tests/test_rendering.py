from __future__ import annotations

import uuid
from datetime import UTC, datetime

from refuge_common.contract.vocabulary import NotificationChannel
from refuge_notifications.adapters.email_sender import SmtpSender
from refuge_notifications.domain.deliveries import idempotency_key
from refuge_notifications.domain.rendering import format_instant, language_for, render_email

DUE = datetime(2026, 4, 7, 21, 59, 59, tzinfo=UTC)  # 23:59:59 in Paris (CEST)


def test_dates_read_as_people_write_them_in_their_language_and_zone() -> None:
    assert format_instant(DUE, "Europe/Paris", "fr") == "mardi 7 avril 2026 à 23 h 59"
    assert format_instant(DUE, "Europe/Paris", "en") == "Tuesday, April 7, 2026 at 11:59 PM"
    assert format_instant(DUE, "Indian/Mayotte", "fr") == "mercredi 8 avril 2026 à 0 h 59"


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
