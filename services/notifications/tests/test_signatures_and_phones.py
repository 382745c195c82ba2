"""Twilio signatures, unsubscribe tokens, phone hashes, STOP words, the default policy."""

from __future__ import annotations

import base64
import uuid

import pytest

from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind
from refuge_notifications.domain import policy
from refuge_notifications.domain.phones import is_stop_request, phone_hash, to_e164
from refuge_notifications.domain.signatures import (
    UnsubscribeTokens,
    derive_secret,
    twilio_signature,
    valid_twilio_signature,
)

# Twilio's published example (auth token 12345).
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]


def test_twilio_signature_matches_the_published_example() -> None:
    assert twilio_signature("12345", TWILIO_URL, TWILIO_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert (
        twilio_signature("12345", TWILIO_URL, list(reversed(TWILIO_PARAMS))) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )


def test_twilio_signature_is_checked_against_token_url_and_every_parameter() -> None:
    good = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert valid_twilio_signature("12345", TWILIO_URL, TWILIO_PARAMS, good)
    assert not valid_twilio_signature("54321", TWILIO_URL, TWILIO_PARAMS, good)
    assert not valid_twilio_signature("12345", TWILIO_URL + "&x=1", TWILIO_PARAMS, good)
    assert not valid_twilio_signature("12345", TWILIO_URL, [*TWILIO_PARAMS[:-1], ("To", "+1")], good)
    assert not valid_twilio_signature("12345", TWILIO_URL, TWILIO_PARAMS, None)
    # the same URL with its default port, as a proxy may show it
    assert valid_twilio_signature(
        "12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", TWILIO_PARAMS, good
    )


def test_unsubscribe_tokens_are_signed_and_carry_only_ids() -> None:
    tokens = UnsubscribeTokens(b"s" * 32)
    tenant, person = uuid.uuid4(), uuid.uuid4()
    token = tokens.issue(tenant, person, "ar")
    read = tokens.read(token)
    assert read is not None and (read.tenant_id, read.person_id, read.channel, read.language) == (
        tenant,
        person,
        "email",
        "ar",
    )
    assert tokens.read(token[:-2] + ("A" if token[-1] != "A" else "B") + token[-1]) is None
    assert UnsubscribeTokens(b"t" * 32).read(token) is None
    assert tokens.read("garbage") is None


def test_derived_secrets_differ_per_purpose_and_are_stable() -> None:
    master = base64.b64encode(b"m" * 32).decode()
    assert derive_secret(master, "phone-hash") == derive_secret(master, "phone-hash")
    assert derive_secret(master, "phone-hash") != derive_secret(master, "unsubscribe")
    assert len(derive_secret(master, "unsubscribe")) == 32


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+33612345678", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033 6 12-34-56-78", "+33612345678"),
        ("+1 (415) 867-5309", "+14158675309"),
        ("06 12 34 56 78", None),  # no country: not guessed
        ("", None),
        (None, None),
        ("+0612", None),
    ],
)
def test_phone_numbers_as_e164(raw: str | None, e164: str | None) -> None:
    assert to_e164(raw) == e164


def test_the_phone_hash_is_keyed() -> None:
    assert phone_hash(b"k1", "+33612345678") == phone_hash(b"k1", "+33612345678")
    assert phone_hash(b"k1", "+33612345678") != phone_hash(b"k2", "+33612345678")
    assert phone_hash(b"k1", "+33612345678") != phone_hash(b"k1", "+33612345679")


@pytest.mark.parametrize(
    ("body", "stop"),
    [
        ("STOP", True),
        ("stop", True),
        (" Stop. ", True),
        ("STOP merci", True),
        ("Arrêt", True),
        ("ARRET", True),
        ("baja", True),
        ("توقف", True),
        ("إلغاء", True),
        ("UNSUBSCRIBE", True),
        ("STOP SMS", True),
        ("Merci pour le rappel", False),
        ("Je ne peux pas stopper", False),
        ("", False),
        (None, False),
    ],
)
def test_stop_replies(body: str | None, stop: bool) -> None:
    assert is_stop_request(body) is stop


def test_default_policy_and_overrides() -> None:
    sms = policy.Rule(policy.REMINDER_DUE, RecipientKind.BENEFICIARY, NotificationChannel.SMS)
    staff_email = policy.Rule(policy.REMINDER_DUE, RecipientKind.CASEWORKER, NotificationChannel.EMAIL)
    staff_sms = policy.Rule(policy.REMINDER_DUE, RecipientKind.CASEWORKER, NotificationChannel.SMS)
    assert policy.enabled(sms, {}) and policy.enabled(staff_email, {})
    assert not policy.enabled(sms, {sms: False})
    assert not policy.known(staff_sms) and not policy.enabled(staff_sms, {})
    assert policy.effective({sms: False})[sms] == (False, True)
    assert policy.effective({})[staff_email] == (True, False)
