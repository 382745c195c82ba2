"""Standard Webhooks signatures, checked by a verifier written from the convention's text
(spec/standard-webhooks.md: "The content to be signed is `{msg_id}.{timestamp}.{payload}`",
HMAC-SHA256 with the base64-decoded `whsec_` secret, `v1,` + base64, space-separated list),
not by the library that signs."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import pytest

from refuge_notifications.domain.webhook_signatures import is_secret, new_secret, sign
from refuge_notifications.service_layer.webhook_endpoints import signing_secrets

# The convention's own known-answer example (its libraries' test suites share it).
KNOWN_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KNOWN_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
KNOWN_TIMESTAMP = 1614265330
KNOWN_BODY = b'{"test": 2432232314}'
KNOWN_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """A receiver's check, from the spec's text alone."""

    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in headers["webhook-signature"].split(" "):
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


def test_the_conventions_own_example() -> None:
    at = datetime.fromtimestamp(KNOWN_TIMESTAMP, UTC)
    headers = sign([KNOWN_SECRET], KNOWN_ID, at, KNOWN_BODY)
    assert headers.signature == KNOWN_SIGNATURE
    assert headers.as_dict() == {
        "webhook-id": KNOWN_ID,
        "webhook-timestamp": str(KNOWN_TIMESTAMP),
        "webhook-signature": KNOWN_SIGNATURE,
    }
    assert verify(KNOWN_SECRET, headers.as_dict(), KNOWN_BODY)


def test_a_fresh_secret_signs_what_a_receiver_verifies_and_nothing_else() -> None:
    secret = new_secret()
    body = '{"type":"org.refuge.case.opened.v1","data":{"office":"Montreuil – accueil"}}'.encode()
    headers = sign([secret], "0d3c1f2e-delivery", datetime.now(UTC), body).as_dict()
    assert verify(secret, headers, body)
    assert not verify(secret, headers, body + b" ")
    assert not verify(new_secret(), headers, body)
    assert not verify(
        secret, {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)}, body
    )
    assert not verify(secret, {**headers, "webhook-id": "another-delivery"}, body)


def test_an_instant_in_another_zone_is_the_same_unix_timestamp() -> None:
    # The library reads a datetime's wall clock as UTC; sign() must hand it UTC.
    paris = datetime.fromtimestamp(KNOWN_TIMESTAMP, UTC).astimezone(timezone(timedelta(hours=2)))
    headers = sign([KNOWN_SECRET], KNOWN_ID, paris, KNOWN_BODY)
    assert headers.timestamp == KNOWN_TIMESTAMP and headers.signature == KNOWN_SIGNATURE


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    old, new = new_secret(), new_secret()
    now = datetime.now(UTC)
    in_use = signing_secrets({"current": new, "previous": old}, now + timedelta(hours=1), now)
    assert in_use == [new, old]
    headers = sign(in_use, "rotating", now, b"{}").as_dict()
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verify(old, headers, b"{}") and verify(new, headers, b"{}")
    after = signing_secrets(
        {"current": new, "previous": old}, now + timedelta(hours=1), now + timedelta(hours=2)
    )
    assert after == [new]
    assert signing_secrets({"current": new, "previous": None}, None, now) == [new]


def test_secrets_have_the_conventions_format() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and is_secret(secret)
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret
    assert is_secret(KNOWN_SECRET)
    assert not is_secret("whsec_c2hvcnQ=")  # 5 bytes: too short
    assert not is_secret(secret.removeprefix("whsec_"))


def test_an_id_that_could_shift_the_signed_content_is_refused() -> None:
    with pytest.raises(ValueError, match="must not contain"):
        sign([new_secret()], "a.b", datetime.now(UTC), b"{}")
    with pytest.raises(ValueError, match="no secret"):
        sign([], "a", datetime.now(UTC), b"{}")
