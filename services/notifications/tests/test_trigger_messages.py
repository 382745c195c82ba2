"""Hearing, missed-deadline and weekly-digest messages: the new date in the recipient's language
and zone, two SMS segments at most (Arabic counted as UCS-2), STOP in every SMS, an unsubscribe
link in every beneficiary e-mail; and which of them an organisation gets by default."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind
from refuge_common.presentation import case_reference
from refuge_notifications.domain import policy
from refuge_notifications.domain.message_values import (
    BENEFICIARY_HEARING,
    CASEWORKER_DIGEST,
    DEADLINE_MISSED,
    UnknownTemplate,
    beneficiary_message,
    staff_values,
)
from refuge_notifications.domain.rendering import LANGUAGES, beneficiary_language, render_email, render_sms
from refuge_notifications.domain.sms_length import Encoding, measure
from refuge_notifications.service_layer.weekly_digest import digest_time, iso_week

HEARING = datetime(2026, 4, 7, 7, 30, tzinfo=UTC)  # 09:30 in Paris (CEST)
UNSUBSCRIBE = "https://notify.example.org/unsubscribe/TOKEN"
NEW_DATE = {
    "fr": "mardi 7 avril 2026 à 9 h 30",
    "en": "Tuesday, April 7, 2026 at 9:30 AM",
    "es": "martes 7 de abril de 2026, 9:30",
    "ar": "الثلاثاء 7 أبريل 2026، الساعة 09:30",
}
SAYS = {
    ("fr", "scheduled"): "votre audience aura lieu le",
    ("fr", "rescheduled"): "votre audience change de date : elle aura lieu le",
    ("fr", "cancelled"): "est annulée",
    ("en", "scheduled"): "your hearing will take place on",
    ("en", "rescheduled"): "your hearing has a new date",
    ("en", "cancelled"): "is cancelled",
    ("es", "scheduled"): "su audiencia es el",
    ("es", "rescheduled"): "su audiencia cambia de fecha",
    ("es", "cancelled"): "queda anulada",
    ("ar", "scheduled"): "موعد جلستك في المحكمة يوم",
    ("ar", "rescheduled"): "الموعد الجديد يوم",
    ("ar", "cancelled"): "أُلغيت جلستك",
}


def _hearing(language: str, change: str, organisation: str = "La Cimade") -> tuple[str, dict[str, object]]:
    context = {
        "change": change,
        "scheduled_at": HEARING.isoformat(),
        "timezone": "Europe/Paris",
        "court": "Tribunal administratif de Montreuil",
    }
    wording = beneficiary_message(
        BENEFICIARY_HEARING, context, "Europe/Paris", beneficiary_language(language, "fr"), organisation
    )
    assert wording.moment == HEARING and wording.offset is None
    return render_sms(BENEFICIARY_HEARING, language, wording.values), wording.values


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("change", ["scheduled", "rescheduled", "cancelled"])
def test_a_hearing_sms_says_the_date_in_the_recipients_language_within_two_segments(
    language: str, change: str
) -> None:
    body, _values = _hearing(language, change)
    assert SAYS[(language, change)] in body
    assert NEW_DATE[language] in body
    assert "STOP" in body
    length = measure(body)
    assert length.fits and length.segments <= 2
    assert length.encoding is (Encoding.UCS2 if language == "ar" else Encoding.GSM7)
    assert "Montreuil" not in body  # the court is for the e-mail: an SMS has no room


def test_a_long_organisation_name_still_fits_two_segments_in_arabic() -> None:
    body, _values = _hearing("ar", "rescheduled", organisation="Association d'aide aux migrants du Grand Est")
    assert measure(body).segments <= 2 and "STOP" in body and body.startswith("\u200f")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_hearing_email_names_the_court_and_has_an_unsubscribe_link(language: str) -> None:
    _body, values = _hearing(language, "scheduled")
    rendered = render_email(BENEFICIARY_HEARING, language, {**values, "unsubscribe_url": UNSUBSCRIBE})
    assert rendered.language == language
    assert NEW_DATE[language] in rendered.subject
    for part in (rendered.text, rendered.html):
        assert "Montreuil" in part and UNSUBSCRIBE in part and NEW_DATE[language] in part
    assert f'dir="{"rtl" if language == "ar" else "ltr"}"' in rendered.html


def test_an_unknown_hearing_change_is_refused_not_guessed() -> None:
    with pytest.raises(UnknownTemplate):
        beneficiary_message(
            BENEFICIARY_HEARING,
            {"change": "held", "scheduled_at": HEARING.isoformat()},
            "UTC",
            beneficiary_language("fr", "fr"),
            "X",
        )


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("kind", ["caseworker", "coordinator"])
def test_a_missed_deadline_email_to_the_caseworker_and_the_coordinator(language: str, kind: str) -> None:
    case_id = uuid.uuid4()
    context = {"purpose": "appeal", "case_id": str(case_id), "due": HEARING.isoformat(), "timezone": "UTC"}
    values = staff_values(DEADLINE_MISSED, context, "Europe/Paris", language, "La Cimade", kind)
    rendered = render_email(DEADLINE_MISSED, language, values)
    assert case_reference(case_id) in rendered.subject
    assert NEW_DATE[language] in rendered.text and "Europe/Paris" in rendered.text
    coordinator_line = "coordinat" if language == "fr" else "as a coordinator"
    assert (coordinator_line in rendered.text) is (kind == "coordinator")


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_weekly_digest_lists_the_offices_deadlines_earliest_first(language: str) -> None:
    later, sooner = uuid.uuid4(), uuid.uuid4()
    context = {
        "week": "2026-W15",
        "horizon_days": 14,
        "deadlines": [
            {"case_id": str(later), "purpose": "appeal", "due": "2026-04-14T21:59:59+00:00"},
            {"case_id": str(sooner), "purpose": "hearing", "due": HEARING.isoformat()},
        ],
    }
    values = staff_values(CASEWORKER_DIGEST, context, "Europe/Paris", language, "La Cimade", "caseworker")
    rendered = render_email(CASEWORKER_DIGEST, language, values)
    assert "2026-W15" in rendered.subject and rendered.subject.endswith("2")
    for part in (rendered.text, rendered.html):
        assert part.index(case_reference(sooner)) < part.index(case_reference(later))
        assert NEW_DATE[language] in part


def test_the_digest_week_and_its_monday_morning_in_the_offices_zone() -> None:
    from zoneinfo import ZoneInfo

    sunday_night = datetime(2026, 4, 12, 23, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert iso_week(sunday_night) == "2026-W15"
    monday_early = datetime(2026, 4, 13, 6, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert iso_week(monday_early) == "2026-W16"
    assert digest_time(monday_early, 7) == datetime(2026, 4, 13, 7, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert monday_early < digest_time(monday_early, 7)  # not yet: the digest waits for 07:00


def test_the_default_policy_tells_whom_of_what() -> None:
    sms, mail = NotificationChannel.SMS, NotificationChannel.EMAIL
    beneficiary, caseworker = RecipientKind.BENEFICIARY, RecipientKind.CASEWORKER
    for trigger in policy.HEARING_TRIGGERS.values():
        assert policy.enabled(policy.Rule(trigger, beneficiary, sms), {})
        assert policy.enabled(policy.Rule(trigger, beneficiary, mail), {})
        assert not policy.enabled(policy.Rule(trigger, caseworker, mail), {})
    assert policy.enabled(policy.Rule(policy.DEADLINE_MISSED, caseworker, mail), {})
    assert policy.enabled(policy.Rule(policy.DEADLINE_MISSED, RecipientKind.COORDINATOR, mail), {})
    assert not policy.enabled(policy.Rule(policy.DEADLINE_MISSED, beneficiary, sms), {})
    assert policy.enabled(policy.Rule(policy.WEEKLY_DIGEST, caseworker, mail), {})
    off = policy.Rule(policy.HEARING_CANCELLED, beneficiary, sms)
    assert not policy.enabled(off, {off: False})
