"""Beneficiary reminders: their language, their zone, two SMS segments at most, nothing
they do not already know, and e-mails whose MIME parses with an unsubscribe link."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from refuge_common.contract.vocabulary import DeadlinePurpose
from refuge_notifications.adapters.email_sender import SmtpSender
from refuge_notifications.domain.rendering import (
    LANGUAGES,
    SmsTooLong,
    beneficiary_language,
    format_instant,
    render_email,
    render_sms,
)
from refuge_notifications.domain.sms_length import Encoding, measure

DUE = datetime(2026, 4, 7, 21, 59, 59, tzinfo=UTC)  # 23:59:59 in Paris (CEST)
UNSUBSCRIBE = "https://notify.example.org/unsubscribe/TOKEN"


def test_dates_in_the_four_languages_in_the_recipients_zone() -> None:
    assert format_instant(DUE, "Europe/Paris", "fr") == "mardi 7 avril 2026 à 23 h 59"
    assert format_instant(DUE, "Europe/Paris", "en") == "Tuesday, April 7, 2026 at 11:59 PM"
    assert format_instant(DUE, "Europe/Paris", "es") == "martes 7 de abril de 2026, 23:59"
    assert format_instant(DUE, "Europe/Paris", "ar") == "الثلاثاء 7 أبريل 2026، الساعة 23:59"
    # the full locale when babel knows it: Levantine month names for Syrian Arabic
    assert format_instant(DUE, "Europe/Paris", "ar", locale="ar_SY") == "الثلاثاء 7 نيسان 2026، الساعة 23:59"
    assert format_instant(DUE, "America/New_York", "es") == "martes 7 de abril de 2026, 17:59"
    assert format_instant(DUE, "Europe/Paris", "fr", with_time=False) == "mardi 7 avril 2026"


@pytest.mark.parametrize(
    ("preferred", "organisation", "code", "locale"),
    [
        ("fr", "fr", "fr", "fr"),
        ("ar-SY", "fr", "ar", "ar_SY"),
        ("es-419", "fr", "es", "es_419"),
        ("ps", "fr", "fr", "fr"),  # Pashto: no templates yet, the organisation's language
        ("ti", "es", "es", "es"),
        (None, "ar", "ar", "ar"),
        ("ps", "de", "en", "en"),  # neither: English
    ],
)
def test_the_language_of_a_beneficiary_message(
    preferred: str | None, organisation: str, code: str, locale: str
) -> None:
    language = beneficiary_language(preferred, organisation)
    assert (language.code, language.locale) == (code, locale)
    assert language.direction == ("rtl" if code == "ar" else "ltr")


def _context(language: str, organisation: str = "La Cimade", purpose: str = "appeal") -> dict[str, object]:
    return {
        "organisation": organisation,
        "purpose": purpose,
        "due_text": format_instant(DUE, "Europe/Paris", language),
        "lang": language,
        "unsubscribe_url": UNSUBSCRIBE,
    }


@pytest.mark.parametrize(
    ("language", "says", "encoding"),
    [
        (
            "fr",
            "La Cimade : le délai pour faire votre recours se termine le mardi 7 avril 2026 à 23 h 59.",
            "gsm7",
        ),
        (
            "en",
            "La Cimade: the deadline to file your appeal ends on Tuesday, April 7, 2026 at 11:59 PM.",
            "gsm7",
        ),
        (
            "es",
            "La Cimade: el plazo para presentar su recurso termina el martes 7 de abril de 2026, 23:59.",
            "gsm7",
        ),
        ("ar", "\u200fLa Cimade: تنتهي مهلة تقديم طعنك يوم الثلاثاء 7 أبريل 2026، الساعة 23:59.", "ucs2"),
    ],
)
def test_the_sms_says_who_what_when_and_how_to_stop(language: str, says: str, encoding: str) -> None:
    body = render_sms("beneficiary_reminder", language, _context(language))
    assert body.startswith(says)
    assert "STOP" in body
    length = measure(body)
    assert length.encoding == Encoding(encoding) and length.segments <= 2


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("purpose", [p.value for p in DeadlinePurpose])
@pytest.mark.parametrize(
    "organisation", ["ADDE", "Association d'aide juridique aux étrangers de Seine-Saint-Denis"]
)
@pytest.mark.parametrize("day", range(5, 12))  # every weekday, "sábado" and "miércoles" too
def test_every_reminder_fits_in_two_segments(
    language: str, purpose: str, organisation: str, day: int
) -> None:
    due = datetime(2026, 11, day, 22, 59, tzinfo=UTC)
    context = {
        **_context(language, organisation, purpose),
        "due_text": format_instant(due, "Europe/Paris", language),
    }
    body = render_sms("beneficiary_reminder", language, context)
    assert measure(body).segments <= 2
    assert "STOP" in body
    assert str(context["due_text"]) in body  # never cut: the date is whole


def test_a_body_that_cannot_fit_is_refused_not_cut() -> None:
    context = {**_context("ar"), "due_text": "٧" * 200}
    with pytest.raises(SmsTooLong):
        render_sms("beneficiary_reminder", "ar", context)


def test_a_long_organisation_name_is_shortened_before_the_message_is() -> None:
    name = "Association d'aide juridique aux étrangers de Seine-Saint-Denis et du Val-d'Oise"
    body = render_sms("beneficiary_reminder", "ar", _context("ar", name))
    assert name not in body and "Association d'aide" in body
    assert measure(body).segments <= 2


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_email_in_each_language_names_only_the_organisation_purpose_and_date(language: str) -> None:
    rendered = render_email("beneficiary_reminder", language, _context(language))
    assert rendered.language == language
    due_text = str(_context(language)["due_text"])
    for part in (rendered.subject, rendered.text, rendered.html):
        assert "La Cimade" in part and due_text in part
    assert UNSUBSCRIBE in rendered.text and f'href="{UNSUBSCRIBE}"' in rendered.html
    direction = "rtl" if language == "ar" else "ltr"
    assert f'<html lang="{language}" dir="{direction}">' in rendered.html


def test_the_arabic_email_reads_right_to_left() -> None:
    rendered = render_email("beneficiary_reminder", "ar", _context("ar"))
    assert 'dir="rtl"' in rendered.html and "<bdi>La Cimade</bdi>" in rendered.html
    assert rendered.text.startswith("\u200f")


def test_the_html_escapes_the_organisation_name() -> None:
    rendered = render_email("beneficiary_reminder", "fr", _context("fr", "<b>x</b> & co"))
    assert "<b>x</b>" not in rendered.html and "&lt;b&gt;x&lt;/b&gt; &amp; co" in rendered.html


def test_the_templates_need_nothing_personal() -> None:
    # StrictUndefined: a template naming a variable it was not given fails. Given only the
    # organisation, purpose, date, language and link, every template renders.
    for language in LANGUAGES:
        render_email("beneficiary_reminder", language, _context(language))
        render_sms("beneficiary_reminder", language, _context(language))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_mime_of_a_beneficiary_email_parses_as_text_and_html(language: str) -> None:
    sender = SmtpSender(host="localhost", port=25, sender="Refuge <no-reply@refuge.example>")
    rendered = render_email("beneficiary_reminder", language, _context(language))
    message = sender.build(
        "amina@example.org",
        rendered,
        "k" * 40,
        sender_name="La Cimade",
        headers={
            "List-Unsubscribe": f"<{UNSUBSCRIBE}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "multipart/alternative"
    text, html = parsed.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content().strip() == rendered.text.strip()
    assert html.get_content().strip() == rendered.html.strip()
    assert parsed["From"].addresses[0].display_name == "La Cimade"
    assert parsed["From"].addresses[0].addr_spec == "no-reply@refuge.example"
    assert parsed["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Subject"] == rendered.subject and parsed["Content-Language"] == language
